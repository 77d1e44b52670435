import Envelope
import Primitives

/// The client's message history. Kept sealed at rest.
///
/// Every method throws ``StoreError`` only, as its signature says.
public protocol HistoryStore: Sendable {
    /// Appends `entry` unless an entry with its id exists (a re-delivered envelope is shown once).
    /// - Returns: whether it was new.
    @discardableResult
    func append(_ entry: HistoryEntry) throws(StoreError) -> Bool
    /// Whether an entry with `id` is stored (a re-delivered image is then not saved again).
    func contains(_ id: MessageID) throws(StoreError) -> Bool
    /// The latest `limit` entries with `peer`, oldest first.
    func entries(with peer: Username, limit: Int) throws(StoreError) -> [HistoryEntry]
    /// Raises the status of the given sent messages (never lowers it).
    func raiseStatus(of ids: [MessageID], to status: HistoryEntry.Status) throws(StoreError)
    /// Marks every entry from `peer` as no longer a request (the user accepted them).
    func clearRequestFlag(for peer: Username) throws(StoreError)
    /// Deletes the conversation with `peer`; returns the sealed images it referenced, oldest
    /// first, so that their blobs can be deleted too.
    func removeConversation(with peer: Username) throws(StoreError) -> [SealedImageReference]
}
