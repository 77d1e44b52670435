import Primitives

/// The client's session records, one per peer (each the current session and the previous ones),
/// persisted sealed: they hold ratchet secrets.
public protocol SessionStore: Sendable {
    /// The record with `peer`, or nil if none was saved.
    /// - Throws: `.corrupt` for a record that fails authentication or does not decode;
    ///   `.unavailable` when storage cannot be read.
    func record(with peer: Username) throws(StoreError) -> SessionRecord?
    /// Saves (replaces) the record with `record.peer`.
    /// - Throws: `.diskFull` or `.unavailable` when it cannot be written; nothing is changed then.
    func saveRecord(_ record: SessionRecord) throws(StoreError)
    /// Deletes the record with `peer` (nothing happens if there is none).
    func removeRecord(with peer: Username) throws(StoreError)
}
