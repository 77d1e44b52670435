import Accounts
import Primitives
import Testing

/// Makes a fresh, empty ``AccountStore``.
public typealias AccountStoreFactory = @Sendable () throws -> any AccountStore

/// The behaviour every ``AccountStore`` adapter must have.
public enum AccountStoreContract {
    public static let checks: [ContractCheck<AccountStoreFactory>] = [
        ContractCheck("a created account is found with every field intact") { make in
            let store = try make()
            let plain = try record("alice")
            let locked = AccountRecord(
                username: try user("bob"), passwordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
                identityKey: try identityKey(2), identitySignature: nil, createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_123),
                failedLoginCount: 7, lockedUntil: Timestamp(millisecondsSinceEpoch: 1_700_000_064_999))
            try store.create(plain)
            try store.create(locked)
            #expect(try store.find(user("alice")) == plain)
            #expect(try store.find(user("bob")) == locked)
        },
        ContractCheck("an identity key another account has is refused, whatever the name") { make in
            let store = try make()
            let alice = try record("alice")
            try store.create(alice)
            let copy = AccountRecord(
                username: try user("mallory"), passwordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
                identityKey: alice.identityKey, identitySignature: try signature(0x33),
                createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_500))
            let error = #expect(throws: StoreError.self) { try store.create(copy) }
            #expect(error?.isAlreadyExists == true)
            #expect(try store.find(user("mallory")) == nil)
            #expect(try store.username(withIdentityKey: alice.identityKey) == (try user("alice")))
            #expect(try store.username(withIdentityKey: identityKey(250)) == nil)
        },
        ContractCheck("of concurrent creations with one identity key exactly one wins") { make in
            let store = try make()
            let key = try identityKey(77)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        do {
                            try store.create(record("user\(index)", identityKey: key))
                            return true
                        } catch StoreError.alreadyExists {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        },
        ContractCheck("a deleted account's identity key is free again") { make in
            let store = try make()
            let alice = try record("alice")
            try store.create(alice)
            #expect(try store.delete(user("alice")))
            #expect(try store.username(withIdentityKey: alice.identityKey) == nil)
            try store.create(record("alicia", identityKey: alice.identityKey))
            #expect(try store.username(withIdentityKey: alice.identityKey) == (try user("alicia")))
        },
        ContractCheck("an unknown account is not found") { make in
            let store = try make()
            try store.create(record("alice"))
            #expect(try store.find(user("alicia")) == nil)
        },
        ContractCheck("creating a taken name throws alreadyExists and changes nothing") { make in
            let store = try make()
            let original = try record("alice", hash: "first")
            try store.create(original)
            let error = #expect(throws: StoreError.self) { try store.create(record("alice", hash: "second")) }
            #expect(error?.isAlreadyExists == true)
            #expect(try store.find(user("alice")) == original)
        },
        ContractCheck("of concurrent creations of one name exactly one wins") { make in
            let store = try make()
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        do {
                            try store.create(record("alice", hash: "hash \(index)"))
                            return true
                        } catch StoreError.alreadyExists {
                            return false
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        },
        ContractCheck("updating the password hash changes only the hash") { make in
            let store = try make()
            var expected = try record("alice", hash: "old")
            try store.create(expected)
            try store.updatePasswordHash("new", for: user("alice"))
            expected.passwordHash = "new"
            #expect(try store.find(user("alice")) == expected)
            let error = #expect(throws: StoreError.self) { try store.updatePasswordHash("x", for: user("carol")) }
            #expect(error?.isNotFound == true)
        },
        ContractCheck("the throttle fields are compared and set atomically") { make in
            let store = try make()
            try store.create(record("alice"))
            let name = try user("alice")
            let locked = LoginThrottle(failedLoginCount: 5, lockedUntil: Timestamp(millisecondsSinceEpoch: 42_001))
            // A stale expectation changes nothing.
            #expect(try store.updateLoginThrottle(for: name, from: LoginThrottle(failedLoginCount: 4, lockedUntil: nil), to: locked) == false)
            #expect(try store.find(name)?.loginThrottle == .clear)
            #expect(try store.updateLoginThrottle(for: name, from: .clear, to: locked))
            #expect(try store.find(name)?.loginThrottle == locked)
            // The lock time is part of the comparison, including nil versus a value.
            #expect(try store.updateLoginThrottle(for: name, from: LoginThrottle(failedLoginCount: 5, lockedUntil: nil), to: .clear) == false)
            #expect(try store.updateLoginThrottle(for: name, from: LoginThrottle(failedLoginCount: 5, lockedUntil: Timestamp(millisecondsSinceEpoch: 42_000)), to: .clear) == false)
            #expect(try store.updateLoginThrottle(for: name, from: locked, to: .clear))
            #expect(try store.find(name) == (try record("alice")))
            let error = #expect(throws: StoreError.self) {
                try store.updateLoginThrottle(for: user("carol"), from: .clear, to: locked)
            }
            #expect(error?.isNotFound == true)
        },
        ContractCheck("concurrent compare-and-set increments are never lost") { make in
            let store = try make()
            try store.create(record("alice"))
            let name = try user("alice")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        for _ in 0..<25 {
                            while true {
                                guard let current = try store.find(name)?.loginThrottle else { return }
                                let next = LoginThrottle(failedLoginCount: current.failedLoginCount + 1, lockedUntil: nil)
                                if try store.updateLoginThrottle(for: name, from: current, to: next) { break }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try store.find(name)?.failedLoginCount == 200)
        },
        ContractCheck("deletion removes the account and frees the name") { make in
            let store = try make()
            try store.create(record("alice", hash: "first"))
            try store.create(record("bob"))
            #expect(try store.delete(user("alice")))
            #expect(try store.find(user("alice")) == nil)
            #expect(try store.delete(user("alice")) == false)
            #expect(try store.find(user("bob")) != nil)
            let fresh = try record("alice", hash: "second")
            try store.create(fresh)
            #expect(try store.find(user("alice")) == fresh)
        },
    ]

    /// An account whose identity key is fixed per name (one key may belong to one account only)
    /// and whose identity signature is stored as given (stores do not verify it).
    static func record(_ name: String, hash: String = "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", identityKey key: Ed25519PublicKey? = nil) throws -> AccountRecord {
        let seed = name.utf8.reduce(UInt8(1)) { $0 &* 31 &+ $1 }
        return AccountRecord(
            username: try user(name), passwordHash: hash, identityKey: try key ?? identityKey(seed),
            identitySignature: try signature(seed), createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))
    }

    static func signature(_ fill: UInt8) throws -> Ed25519Signature {
        try Ed25519Signature(bytes: [UInt8](repeating: fill, count: 64))
    }
}
