import ClientCore
import Prekeys
import Primitives
import Testing
import WireProtocol

/// Bundle fetches are limited per requester and per target, so that nobody can drain another
/// user's one-time prekeys (issue 10, finding 7: 150 fetches in 0.2 s emptied the pool).
@Suite("Bundle fetch limits", .shutsDownConnections, .timeLimit(.minutes(2)))
struct BundleFetchLimitTests {
    @Test("one requester fetching a bundle 150 times is throttled and takes few one-time prekeys")
    func oneRequesterCannotDrainAPool() async throws {
        let world = try TestWorld(serverClock: frozenClock())
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: name("bob"), password: password())
        let mallory = try world.connect(try world.device("mallory"))
        try await mallory.client.register(username: name("mallory"), password: password())
        var throttled = 0
        for _ in 0..<150 {
            if case .error(let error) = try await mallory.wire.request(.fetchBundle(username: name("bob"))), error.code == .throttled {
                throttled += 1
            }
        }
        #expect(throttled >= 100, "most of the burst is refused")
        #expect(try world.prekeys.oneTimePrekeyCount(for: name("bob")) >= 80)
    }

    @Test("many requesters together take at most the target's share of one-time prekeys; bundles still come")
    func manyRequestersShareTheTargetsBudget() async throws {
        let world = try TestWorld(serverClock: frozenClock())
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: name("bob"), password: password())
        var withoutOneTimePrekey = 0
        for index in 0..<6 {
            let requester = try world.connect(try world.device("user\(index)"))
            try await requester.client.register(username: name("user\(index)"), password: password())
            for _ in 0..<10 {
                guard case .bundle(let bundle) = try await requester.wire.request(.fetchBundle(username: name("bob"))) else {
                    Issue.record("a bundle without a one-time prekey is still a bundle")
                    continue
                }
                if bundle.oneTimePrekey == nil { withoutOneTimePrekey += 1 }
            }
        }
        #expect(withoutOneTimePrekey >= 40)
        #expect(try world.prekeys.oneTimePrekeyCount(for: name("bob")) >= 80)
    }
}
