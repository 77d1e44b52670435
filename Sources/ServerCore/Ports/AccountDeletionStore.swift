import Primitives

/// Deletes everything the server holds about one account, in one transaction.
///
/// Account deletion spans four aggregates (the account record, its prekeys, its mailbox and the
/// blocks it made or received). Deleting them with four separate store calls left an account
/// half-deleted when a later call failed: the record gone but the mailbox kept, or the name free
/// while blocks against it survived for the next person to register it. This port is the one call
/// that applies the whole deletion or none of it.
///
/// Implemented by `InMemoryAccountDeletionStore`, `SQLiteAccountDeletionStore` and
/// `PostgresAccountDeletionStore`; all pass `AccountDeletionStoreContract`.
public protocol AccountDeletionStore: Sendable {
    /// Deletes `username`'s account record, signed and one-time prekeys, pending envelopes, the
    /// blocks it made and the blocks against it, atomically: when it throws, nothing was deleted.
    /// Returns whether the account record existed (deleting a deleted account is not an error, so a
    /// retrying client succeeds).
    /// - Throws: ``StoreError`` when the transaction cannot be committed (nothing was deleted).
    func deleteAccount(_ username: Username) throws(StoreError) -> Bool
}
