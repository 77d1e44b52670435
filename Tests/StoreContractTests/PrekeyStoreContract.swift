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
    ]
}
