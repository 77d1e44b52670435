import Accounts
import Primitives

/// ``AccountStore`` in memory: the reference implementation for domain tests, held to the same
/// contract suite as `SQLiteAccountStore`. Thread-safe: every method runs under one lock, which is
/// what makes each one atomic. Accounts are indexed by identity key too, as the SQLite adapter's
/// unique index does, so no two accounts can share one.
public final class InMemoryAccountStore: AccountStore {
    private struct State {
        var accounts: [Username: AccountRecord] = [:]
        var byIdentityKey: [Ed25519PublicKey: Username] = [:]
    }

    private let state = LockedValue(State())

    public init() {}

    public func create(_ record: AccountRecord) throws(StoreError) {
        try state.withLock { state throws(StoreError) in
            guard state.accounts[record.username] == nil else { throw .alreadyExists("account \(record.username)") }
            guard state.byIdentityKey[record.identityKey] == nil else { throw .alreadyExists("an account with this identity key") }
            state.accounts[record.username] = record
            state.byIdentityKey[record.identityKey] = record.username
        }
    }

    public func find(_ username: Username) throws(StoreError) -> AccountRecord? {
        state.withLock { $0.accounts[username] }
    }

    public func username(withIdentityKey identityKey: Ed25519PublicKey) throws(StoreError) -> Username? {
        state.withLock { $0.byIdentityKey[identityKey] }
    }

    public func updatePasswordHash(_ passwordHash: String, for username: Username) throws(StoreError) {
        try state.withLock { state throws(StoreError) in
            guard state.accounts[username] != nil else { throw .notFound("account \(username)") }
            state.accounts[username]?.passwordHash = passwordHash
        }
    }

    public func updateLoginThrottle(for username: Username, from expected: LoginThrottle, to new: LoginThrottle) throws(StoreError) -> Bool {
        try state.withLock { state throws(StoreError) in
            guard let record = state.accounts[username] else { throw .notFound("account \(username)") }
            guard record.loginThrottle == expected else { return false }
            state.accounts[username]?.loginThrottle = new
            return true
        }
    }

    public func delete(_ username: Username) throws(StoreError) -> Bool {
        state.withLock { state in
            guard let removed = state.accounts.removeValue(forKey: username) else { return false }
            state.byIdentityKey[removed.identityKey] = nil
            return true
        }
    }

    /// Runs `body` under this store's lock with a lookup of identity keys by username, so that no
    /// account is created or deleted meanwhile: for ``InMemoryMailboxStore``'s recipient check,
    /// which must see the accounts as they are when the envelope is stored.
    func withIdentityKeys<T>(_ body: ((Username) -> Ed25519PublicKey?) -> T) -> T {
        state.withLock { state in
            let accounts = state.accounts
            return body { accounts[$0]?.identityKey }
        }
    }

    /// Runs `removeRelated` and then deletes the record, all under this store's lock, so that no
    /// account operation sees one without the other; if `removeRelated` throws, the record stays.
    /// For ``InMemoryAccountDeletionStore``.
    func deleting(_ username: Username, removeRelated: () throws(StoreError) -> Void) throws(StoreError) -> Bool {
        try state.withLock { state throws(StoreError) in
            try removeRelated()
            guard let removed = state.accounts.removeValue(forKey: username) else { return false }
            state.byIdentityKey[removed.identityKey] = nil
            return true
        }
    }
}
