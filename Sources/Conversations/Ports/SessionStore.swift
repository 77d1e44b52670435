import Primitives

/// The client's sessions, one per peer, persisted sealed (they hold ratchet secrets).
///
/// Every method throws ``StoreError`` only.
public protocol SessionStore: Sendable {
    func session(with peer: Username) throws -> Session?
    /// Saves (replaces) the session with `session.peer`.
    func saveSession(_ session: Session) throws
    func removeSession(with peer: Username) throws
}
