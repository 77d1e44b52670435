import Conversations
import Primitives
import Synchronization

/// ``SessionStore`` in memory. Sessions are kept serialised, exactly as a database would keep
/// them, so a round-trip bug shows up here too.
public final class InMemorySessionStore: SessionStore {
    private let sessions = Mutex([Username: SecretBytes]())

    public init() {}

    public func session(with peer: Username) throws -> Session? {
        guard let stored = sessions.withLock({ $0[peer] }) else { return nil }
        do { return try Session(deserializing: stored) } catch {
            throw StoreError.corrupt("session with \(peer): \(error)")
        }
    }

    public func saveSession(_ session: Session) throws {
        let serialized = session.serialized()
        sessions.withLock { $0[session.peer] = serialized }
    }

    public func removeSession(with peer: Username) throws {
        sessions.withLock { _ = $0.removeValue(forKey: peer) }
    }
}
