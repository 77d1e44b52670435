import Prekeys
import Primitives

/// ``PrekeyStore`` in memory, held to the same contract suite as `SQLitePrekeyStore`. Thread-safe:
/// `takePrekeys` picks and removes a one-time prekey under one lock, so no key is handed out twice.
public final class InMemoryPrekeyStore: PrekeyStore {
    private struct UserPrekeys {
        var signedPrekey: SignedPrekey?
        /// Keyed by id; the lowest id is handed out first (as `SQLitePrekeyStore` does).
        var oneTimePrekeys: [UInt32: OneTimePrekey] = [:]
        var lastResortKEMPrekey: KEMPrekey?
        /// Keyed by id; the lowest id is handed out first.
        var oneTimeKEMPrekeys: [UInt32: KEMPrekey] = [:]

        var isEmpty: Bool { signedPrekey == nil && oneTimePrekeys.isEmpty && lastResortKEMPrekey == nil && oneTimeKEMPrekeys.isEmpty }
    }

    private let users = LockedValue<[Username: UserPrekeys]>([:])

    public init() {}

    public func setSignedPrekey(_ prekey: SignedPrekey, for user: Username) throws(StoreError) {
        users.withLock { $0[user, default: UserPrekeys()].signedPrekey = prekey }
    }

    public func addOneTimePrekeys(_ prekeys: [OneTimePrekey], for user: Username) throws(StoreError) {
        users.withLock { users in
            var entry = users[user, default: UserPrekeys()]
            for prekey in prekeys where entry.oneTimePrekeys[prekey.id] == nil {
                entry.oneTimePrekeys[prekey.id] = prekey
            }
            users[user] = entry
        }
    }

    public func takePrekeys(for user: Username) throws(StoreError) -> (signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?)? {
        users.withLock { users -> (signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?)? in
            guard var entry = users[user], let signedPrekey = entry.signedPrekey else { return nil }
            let oneTimePrekey = entry.oneTimePrekeys.keys.min().flatMap { entry.oneTimePrekeys.removeValue(forKey: $0) }
            users[user] = entry
            return (signedPrekey, oneTimePrekey)
        }
    }

    public func signedPrekey(for user: Username) throws(StoreError) -> SignedPrekey? {
        users.withLock { $0[user]?.signedPrekey }
    }

    public func oneTimePrekeyIDs(for user: Username, limit: Int) throws(StoreError) -> [UInt32] {
        guard limit > 0 else { return [] }
        return users.withLock { Array(($0[user]?.oneTimePrekeys.keys.sorted() ?? []).prefix(limit)) }
    }

    public func oneTimePrekeyCount(for user: Username) throws(StoreError) -> Int {
        users.withLock { $0[user]?.oneTimePrekeys.count ?? 0 }
    }

    public func setLastResortKEMPrekey(_ prekey: KEMPrekey, for user: Username) throws(StoreError) {
        users.withLock { $0[user, default: UserPrekeys()].lastResortKEMPrekey = prekey }
    }

    public func addOneTimeKEMPrekeys(_ prekeys: [KEMPrekey], for user: Username) throws(StoreError) {
        users.withLock { users in
            var entry = users[user, default: UserPrekeys()]
            for prekey in prekeys where entry.oneTimeKEMPrekeys[prekey.id] == nil {
                entry.oneTimeKEMPrekeys[prekey.id] = prekey
            }
            users[user] = entry
        }
    }

    public func takeKEMPrekey(for user: Username, allowOneTime: Bool) throws(StoreError) -> BundledKEMPrekey? {
        users.withLock { users -> BundledKEMPrekey? in
            guard var entry = users[user] else { return nil }
            if allowOneTime, let id = entry.oneTimeKEMPrekeys.keys.min(), let prekey = entry.oneTimeKEMPrekeys.removeValue(forKey: id) {
                users[user] = entry
                return BundledKEMPrekey(prekey, isLastResort: false)
            }
            return entry.lastResortKEMPrekey.map { BundledKEMPrekey($0, isLastResort: true) }
        }
    }

    public func kemPrekeyStatus(for user: Username, limit: Int) throws(StoreError) -> (oneTimeIDs: [UInt32], lastResortID: UInt32?) {
        users.withLock { users in
            let entry = users[user]
            return (Array((entry?.oneTimeKEMPrekeys.keys.sorted() ?? []).prefix(max(limit, 0))), entry?.lastResortKEMPrekey?.id)
        }
    }

    public func removeAll(for user: Username) throws(StoreError) {
        users.withLock { _ = $0.removeValue(forKey: user) }
    }
}
