import Primitives

/// The server's store of accounts, keyed by normalised ``Username``.
///
/// Implemented by `InMemoryAccountStore`, `SQLiteAccountStore` and `PostgresAccountStore`; all pass
/// the same contract suite (`AccountStoreContract`). Every method is atomic and throws ``StoreError`` only.
public protocol AccountStore: Sendable {
    /// Stores a new account.
    /// - Throws: ``StoreError/alreadyExists(_:)`` when the username is taken or another account
    ///   has the same identity key (the checks and the insert are one atomic step, so two
    ///   concurrent registrations cannot both win).
    func create(_ record: AccountRecord) throws(StoreError)

    /// The account called `username`, or nil.
    func find(_ username: Username) throws(StoreError) -> AccountRecord?

    /// The name of the account whose identity key is `identityKey`, or nil (at most one has it).
    func username(withIdentityKey identityKey: Ed25519PublicKey) throws(StoreError) -> Username?

    /// Replaces the account's password hash (after a rehash to a new cost, or a password change).
    /// - Throws: ``StoreError/notFound(_:)`` when there is no such account.
    func updatePasswordHash(_ passwordHash: String, for username: Username) throws(StoreError)

    /// Compare-and-set of the login-throttle fields: sets them to `new` only if they are still
    /// `expected`, and reports whether it did. A false answer means a concurrent login changed them
    /// first; the caller re-reads and decides again. This is what makes every concurrent failed
    /// attempt count.
    /// - Throws: ``StoreError/notFound(_:)`` when there is no such account.
    func updateLoginThrottle(for username: Username, from expected: LoginThrottle, to new: LoginThrottle) throws(StoreError) -> Bool

    /// Deletes the account record; returns whether it existed. Other stores' data about the user
    /// (prekeys, mailbox, blocks) is removed by the application, not here.
    func delete(_ username: Username) throws(StoreError) -> Bool
}
