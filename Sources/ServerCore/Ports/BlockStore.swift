import Primitives

/// Who has blocked whom. The server consults it before accepting an envelope, so that a blocked
/// sender's messages are never stored for the blocker.
///
/// Implemented by `InMemoryBlockStore`, `SQLiteBlockStore` and `PostgresBlockStore`; all pass
/// `BlockStoreContract`.
/// Every method is atomic and throws ``StoreError`` only.
public protocol BlockStore: Sendable {
    /// Records that `blocker` blocks `blocked`. Blocking twice is the same as once.
    func block(_ blocked: Username, by blocker: Username) throws(StoreError)

    /// Removes the block, if any. Unblocking someone not blocked does nothing.
    func unblock(_ blocked: Username, by blocker: Username) throws(StoreError)

    /// Whether `recipient` has blocked `sender`. Blocks are one-way.
    func isBlocked(sender: Username, by recipient: Username) throws(StoreError) -> Bool

    /// Everyone `blocker` has blocked, in ascending username order.
    func blocked(by blocker: Username) throws(StoreError) -> [Username]

    /// Removes every block `user` made and every block against `user` (account deletion), so a
    /// later registration of the same name starts with no blocks either way.
    func removeAll(for user: Username) throws(StoreError)
}
