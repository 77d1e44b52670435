import Prekeys
import Primitives
import Testing

/// Makes a fresh, empty ``PrekeyStore``.
public typealias PrekeyStoreFactory = @Sendable () throws -> any PrekeyStore

/// The behaviour every ``PrekeyStore`` adapter must have. The heart of it: a one-time prekey is
/// handed out at most once, even to concurrent callers.
public enum PrekeyStoreContract {
    public static let checks: [ContractCheck<PrekeyStoreFactory>] = [
        ContractCheck("without a signed prekey there is no bundle, and no one-time prekey is used") { make in
            let store = try make()
            let alice = try user("alice")
            #expect(try store.takePrekeys(for: alice) == nil)
            try store.addOneTimePrekeys(oneTimePrekeys(1...3), for: alice)
            #expect(try store.takePrekeys(for: alice) == nil)
            #expect(try store.oneTimePrekeyCount(for: alice) == 3)
        },
        ContractCheck("each one-time prekey is handed out once, lowest id first, then none") { make in
            let store = try make()
            let alice = try user("alice")
            let signed = try signedPrekey(id: 9, seed: 90)
            try store.setSignedPrekey(signed, for: alice)
            let pool = try oneTimePrekeys([30, 10, 20])
            try store.addOneTimePrekeys(pool, for: alice)
            var taken: [OneTimePrekey] = []
            for remaining in [2, 1, 0] {
                let bundle = try #require(try store.takePrekeys(for: alice))
                #expect(bundle.signedPrekey == signed)
                taken.append(try #require(bundle.oneTimePrekey))
                #expect(try store.oneTimePrekeyCount(for: alice) == remaining)
            }
            #expect(taken.map(\.id) == [10, 20, 30])
            #expect(Set(taken) == Set(pool))
            // An empty pool still yields the signed prekey, with no one-time prekey (X3DH runs
            // without DH4).
            let empty = try #require(try store.takePrekeys(for: alice))
            #expect(empty.signedPrekey == signed)
            #expect(empty.oneTimePrekey == nil)
        },
        ContractCheck("the signed prekey alone takes no one-time prekey; the held ids are listed ascending, bounded") { make in
            let store = try make()
            let alice = try user("alice")
            #expect(try store.signedPrekey(for: alice) == nil)
            let signed = try signedPrekey(id: 4, seed: 40)
            try store.setSignedPrekey(signed, for: alice)
            try store.addOneTimePrekeys(oneTimePrekeys([30, 10, 20]), for: alice)
            #expect(try store.signedPrekey(for: alice) == signed)
            #expect(try store.oneTimePrekeyCount(for: alice) == 3)
            #expect(try store.oneTimePrekeyIDs(for: alice, limit: 10) == [10, 20, 30])
            #expect(try store.oneTimePrekeyIDs(for: alice, limit: 2) == [10, 20])
            #expect(try store.oneTimePrekeyIDs(for: alice, limit: 0) == [])
            _ = try store.takePrekeys(for: alice)
            #expect(try store.oneTimePrekeyIDs(for: alice, limit: 10) == [20, 30])
            #expect(try store.oneTimePrekeyIDs(for: user("bob"), limit: 10) == [])
        },
        ContractCheck("adding an id already in the pool keeps the first key") { make in
            let store = try make()
            let alice = try user("alice")
            try store.setSignedPrekey(signedPrekey(id: 1, seed: 1), for: alice)
            let first = OneTimePrekey(id: 5, publicKey: try publicKey(50))
            try store.addOneTimePrekeys([first], for: alice)
            try store.addOneTimePrekeys([OneTimePrekey(id: 5, publicKey: try publicKey(51))] + oneTimePrekeys([6]), for: alice)
            #expect(try store.oneTimePrekeyCount(for: alice) == 2)
            #expect(try store.takePrekeys(for: alice)?.oneTimePrekey == first)
        },
        ContractCheck("a new signed prekey replaces the old one") { make in
            let store = try make()
            let alice = try user("alice")
            try store.setSignedPrekey(signedPrekey(id: 1, seed: 1), for: alice)
            let newer = try signedPrekey(id: 2, seed: 2)
            try store.setSignedPrekey(newer, for: alice)
            #expect(try store.takePrekeys(for: alice)?.signedPrekey == newer)
        },
        ContractCheck("users' prekeys are separate") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            try store.setSignedPrekey(signedPrekey(id: 1, seed: 1), for: alice)
            try store.setSignedPrekey(signedPrekey(id: 1, seed: 2), for: bob)
            try store.addOneTimePrekeys(oneTimePrekeys(1...2), for: alice)
            try store.addOneTimePrekeys(oneTimePrekeys(1...5), for: bob)
            _ = try store.takePrekeys(for: alice)
            #expect(try store.oneTimePrekeyCount(for: alice) == 1)
            #expect(try store.oneTimePrekeyCount(for: bob) == 5)
            #expect(try store.takePrekeys(for: bob)?.signedPrekey == (try signedPrekey(id: 1, seed: 2)))
        },
        ContractCheck("removeAll deletes the user's signed and one-time prekeys only") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            for name in [alice, bob] {
                try store.setSignedPrekey(signedPrekey(id: 1, seed: 1), for: name)
                try store.addOneTimePrekeys(oneTimePrekeys(1...3), for: name)
            }
            try store.removeAll(for: alice)
            #expect(try store.takePrekeys(for: alice) == nil)
            #expect(try store.oneTimePrekeyCount(for: alice) == 0)
            #expect(try store.oneTimePrekeyCount(for: bob) == 3)
            try store.removeAll(for: user("nobody"))
        },
        ContractCheck("8 concurrent takers of 100 bundles share a pool of 50: each key goes out exactly once") { make in
            let store = try make()
            let alice = try user("alice")
            try store.setSignedPrekey(signedPrekey(id: 1, seed: 1), for: alice)
            try store.addOneTimePrekeys(oneTimePrekeys(1...50), for: alice)
            let handedOut = try await withThrowingTaskGroup(of: [UInt32?].self) { group in
                for taker in 0..<8 {
                    group.addTask {
                        // 100 takes spread over 8 tasks: 13 or 12 each.
                        try (0..<(taker < 4 ? 13 : 12)).map { _ in try store.takePrekeys(for: alice)?.oneTimePrekey?.id }
                    }
                }
                return try await group.reduce(into: [UInt32?]()) { $0 += $1 }
            }
            #expect(handedOut.count == 100)
            let ids = handedOut.compactMap { $0 }
            #expect(ids.count == 50)
            #expect(Set(ids) == Set(1...50))
            #expect(try store.oneTimePrekeyCount(for: alice) == 0)
        },
        ContractCheck("ML-KEM: each one-time prekey goes out once, lowest id first, then the last-resort one, which stays") { make in
            let store = try make()
            let alice = try user("alice")
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: true) == nil)
            #expect(try store.kemPrekeyStatus(for: alice, limit: 10) == ([], nil))
            let lastResort = try kemPrekey(id: 100, seed: 1)
            try store.setLastResortKEMPrekey(lastResort, for: alice)
            try store.addOneTimeKEMPrekeys([try kemPrekey(id: 3, seed: 3), try kemPrekey(id: 2, seed: 2)], for: alice)
            #expect(try store.kemPrekeyStatus(for: alice, limit: 10) == ([2, 3], 100))
            #expect(try store.kemPrekeyStatus(for: alice, limit: 1) == ([2], 100))
            #expect(try store.kemPrekeyStatus(for: alice, limit: 0) == ([], 100))
            // Not allowed a one-time key: the last-resort one, and the pool is untouched.
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: false) == BundledKEMPrekey(lastResort, isLastResort: true))
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: true) == BundledKEMPrekey(try kemPrekey(id: 2, seed: 2), isLastResort: false))
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: true) == BundledKEMPrekey(try kemPrekey(id: 3, seed: 3), isLastResort: false))
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: true) == BundledKEMPrekey(lastResort, isLastResort: true))
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: true) == BundledKEMPrekey(lastResort, isLastResort: true))
            #expect(try store.kemPrekeyStatus(for: alice, limit: 10) == ([], 100))
        },
        ContractCheck("ML-KEM: a new last-resort prekey replaces the old, an id already in the pool keeps the first key, removeAll removes them") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            try store.setLastResortKEMPrekey(try kemPrekey(id: 100, seed: 1), for: alice)
            try store.setLastResortKEMPrekey(try kemPrekey(id: 101, seed: 2), for: alice)
            try store.addOneTimeKEMPrekeys([try kemPrekey(id: 5, seed: 5)], for: alice)
            try store.addOneTimeKEMPrekeys([try kemPrekey(id: 5, seed: 6)], for: alice)
            try store.addOneTimeKEMPrekeys([try kemPrekey(id: 5, seed: 7)], for: bob)
            #expect(try store.kemPrekeyStatus(for: alice, limit: 10) == ([5], 101))
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: false) == BundledKEMPrekey(try kemPrekey(id: 101, seed: 2), isLastResort: true))
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: true) == BundledKEMPrekey(try kemPrekey(id: 5, seed: 5), isLastResort: false))
            try store.addOneTimeKEMPrekeys([try kemPrekey(id: 6, seed: 6)], for: alice)
            try store.removeAll(for: alice)
            #expect(try store.kemPrekeyStatus(for: alice, limit: 10) == ([], nil))
            #expect(try store.takeKEMPrekey(for: alice, allowOneTime: true) == nil)
            #expect(try store.kemPrekeyStatus(for: bob, limit: 10) == ([5], nil))
        },
        ContractCheck("ML-KEM: 8 concurrent takers of 60 prekeys share a pool of 40: each one-time key goes out exactly once") { make in
            let store = try make()
            let alice = try user("alice")
            try store.setLastResortKEMPrekey(try kemPrekey(id: 1000, seed: 0), for: alice)
            try store.addOneTimeKEMPrekeys(try (1...40).map { id throws in try kemPrekey(id: UInt32(id), seed: UInt8(id)) }, for: alice)
            let handedOut = try await withThrowingTaskGroup(of: [BundledKEMPrekey?].self) { group in
                for taker in 0..<8 {
                    group.addTask {
                        // 60 takes spread over 8 tasks: 8 or 7 each.
                        try (0..<(taker < 4 ? 8 : 7)).map { _ in try store.takeKEMPrekey(for: alice, allowOneTime: true) }
                    }
                }
                return try await group.reduce(into: [BundledKEMPrekey?]()) { $0 += $1 }
            }
            #expect(handedOut.count == 60)
            let oneTime = handedOut.compactMap { $0 }.filter { !$0.isLastResort }.map(\.prekey.id)
            #expect(oneTime.count == 40)
            #expect(Set(oneTime) == Set(1...40))
            #expect(handedOut.compactMap { $0 }.filter(\.isLastResort).count == 20)
            #expect(try store.kemPrekeyStatus(for: alice, limit: 100) == ([], 1000))
        },
    ]

    /// An ML-KEM prekey whose key and signature bytes are all derived from `seed` (the store never
    /// checks them).
    static func kemPrekey(id: UInt32, seed: UInt8) throws -> KEMPrekey {
        KEMPrekey(
            id: id,
            publicKey: try MLKEMPublicKey(bytes: [UInt8](repeating: seed, count: MLKEMPublicKey.byteCount)),
            signature: try Ed25519Signature(bytes: [UInt8](repeating: seed &+ 1, count: Ed25519Signature.byteCount)))
    }
}
