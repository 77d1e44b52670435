import Envelope
import Primitives

/// The client's message history. Kept sealed at rest.
///
/// Every method throws ``StoreError`` only.
public protocol HistoryStore: Sendable {
    /// Appends `entry` unless an entry with its id exists (a re-delivered envelope is shown once).
    /// - Returns: whether it was new.
    @discardableResult
    func append(_ entry: HistoryEntry) throws -> Bool
    /// The latest `limit` entries with `peer`, oldest first.
    func entries(with peer: Username, limit: Int) throws -> [HistoryEntry]
    /// Raises the status of the given sent messages (never lowers it).
    func raiseStatus(of ids: [MessageID], to status: HistoryEntry.Status) throws
    /// Marks every entry from `peer` as no longer a request (the user accepted them).
    func clearRequestFlag(for peer: Username) throws
    /// Deletes the conversation with `peer`; returns the image paths it referenced.
    func removeConversation(with peer: Username) throws -> [String]
}
