import Accounts
import Primitives
import Synchronization

/// ``AccountStore`` in memory: the reference implementation for domain tests, held to the same
/// contract suite as `SQLiteAccountStore`. Thread-safe: every method runs under one lock, which is
/// what makes each one atomic.
public final class InMemoryAccountStore: AccountStore {
    private let accounts = Mutex<[Username: AccountRecord]>([:])

    public init() {}

    public func create(_ record: AccountRecord) throws(StoreError) {
        try accounts.withLock { accounts throws(StoreError) in
            guard accounts[record.username] == nil else { throw .alreadyExists("account \(record.username)") }
            accounts[record.username] = record
        }
    }

    public func find(_ username: Username) throws(StoreError) -> AccountRecord? {
        accounts.withLock { $0[username] }
    }

    public func updatePasswordHash(_ passwordHash: String, for username: Username) throws(StoreError) {
        try accounts.withLock { accounts throws(StoreError) in
            guard accounts[username] != nil else { throw .notFound("account \(username)") }
            accounts[username]?.passwordHash = passwordHash
        }
    }

    public func updateLoginThrottle(for username: Username, from expected: LoginThrottle, to new: LoginThrottle) throws(StoreError) -> Bool {
        try accounts.withLock { accounts throws(StoreError) in
            guard let record = accounts[username] else { throw .notFound("account \(username)") }
            guard record.loginThrottle == expected else { return false }
            accounts[username]?.loginThrottle = new
            return true
        }
    }

    public func delete(_ username: Username) throws(StoreError) -> Bool {
        accounts.withLock { $0.removeValue(forKey: username) != nil }
    }

    /// Runs `removeRelated` and then deletes the record, all under this store's lock, so that no
    /// account operation sees one without the other; if `removeRelated` throws, the record stays.
    /// For ``InMemoryAccountDeletionStore``.
    func deleting(_ username: Username, removeRelated: () throws(StoreError) -> Void) throws(StoreError) -> Bool {
        try accounts.withLock { accounts throws(StoreError) in
            try removeRelated()
            return accounts.removeValue(forKey: username) != nil
        }
    }
}
