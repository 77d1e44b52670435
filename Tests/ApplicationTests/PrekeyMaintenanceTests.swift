import ClientCore
import Prekeys
import Primitives
import SystemClock
import Testing
import WireProtocol

/// The client keeps its prekeys supplied and fresh through the server.
@Suite("Prekey upkeep", .shutsDownConnections, .timeLimit(.minutes(2)))
struct PrekeyMaintenanceTests {
    @Test("when the server runs low, the client tops its one-time prekeys back up to 100")
    func topUp() async throws {
        let world = try TestWorld()
        let bobDevice = try world.device("bob")
        let bob = try world.connect(bobDevice)
        try await bob.client.register(username: name("bob"), password: password())
        #expect(try world.prekeys.oneTimePrekeyCount(for: name("bob")) == 100)
        // Others fetch 80 bundles: each consumes one one-time prekey; below 25 the server pushes
        // "prekeys low" and Bob's client publishes fresh ones.
        var taken: [UInt32] = []
        for _ in 0..<80 {
            let bundle = try #require(try world.prekeys.takePrekeys(for: name("bob")))
            taken.append(try #require(bundle.oneTimePrekey).id)
        }
        #expect(Set(taken).count == 80)
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        try await alice.client.send(text: "hi", to: name("bob"))
        try await waitUntil { (try? world.prekeys.oneTimePrekeyCount(for: name("bob"))) == 100 }
        // The new ids never reuse old ones: none of the 100 now on the server is one of the 80
        // already handed out (a client that restarted its id counter would reissue them), and all
        // 100 have secrets on Bob's device.
        var served: [UInt32] = []
        while let bundle = try world.prekeys.takePrekeys(for: name("bob")), let oneTime = bundle.oneTimePrekey {
            served.append(oneTime.id)
        }
        #expect(served.count == 100)
        #expect(Set(served).count == served.count)
        #expect(Set(served).isDisjoint(with: taken), "reissued ids: \(Set(served).intersection(taken).sorted())")
        for id in served { #expect(try bobDevice.stores.keys.oneTimePrekeyPair(id: id) != nil) }
    }

    @Test("the signed prekey is rotated after 7 days and the old secret erased 14 days later")
    func signedPrekeyRotation() async throws {
        let world = try TestWorld()
        let clock = ManualClock(SystemWallClock().now())
        let device = try world.device("carol")
        let carol = try world.connect(device, clock: clock)
        try await carol.client.register(username: name("carol"), password: password())
        let first = try #require(try device.stores.keys.signedPrekeyPairs().first)
        let published = try #require(try world.prekeys.takePrekeys(for: name("carol")))
        #expect(published.signedPrekey.id == first.id)

        clock.advance(by: .seconds(6 * 24 * 3600))
        try await carol.client.maintainPrekeys()
        #expect(try device.stores.keys.signedPrekeyPairs().map(\.id) == [first.id])

        clock.advance(by: .seconds(2 * 24 * 3600))
        try await carol.client.maintainPrekeys()
        let afterRotation = try device.stores.keys.signedPrekeyPairs()
        #expect(afterRotation.count == 2)
        let second = try #require(afterRotation.first { $0.id != first.id })
        #expect(try world.prekeys.takePrekeys(for: name("carol"))?.signedPrekey.id == second.id)

        // Day 21: the second key is a week old and rotates too; the first, retired on day 8, is
        // kept for messages in flight until day 22.
        clock.advance(by: .seconds(13 * 24 * 3600))
        try await carol.client.maintainPrekeys()
        let three = try device.stores.keys.signedPrekeyPairs()
        #expect(three.count == 3)
        // Day 23: the first is erased (14 days after it was retired); the second stays until day 35.
        clock.advance(by: .seconds(2 * 24 * 3600))
        try await carol.client.maintainPrekeys()
        let remaining = Set(try device.stores.keys.signedPrekeyPairs().map(\.id))
        #expect(!remaining.contains(first.id))
        #expect(remaining.contains(second.id))
        #expect(remaining.count == 2)
    }

    @Test("one-time ML-KEM prekeys are topped up to 100; the last-resort one rotates with the signed prekey and its old secret is erased 14 days later")
    func kemPrekeyUpkeep() async throws {
        let world = try TestWorld()
        let clock = ManualClock(SystemWallClock().now())
        let device = try world.device("dora")
        let dora = try world.connect(device, clock: clock)
        try await dora.client.register(username: name("dora"), password: password())
        let firstLastResort = try #require(try world.prekeys.kemPrekeyStatus(for: name("dora"), limit: 1000).lastResortID)
        // 80 one-time ML-KEM prekeys handed out: the next upkeep tops the pool back up to 100.
        for _ in 0..<80 { _ = try world.prekeys.takeKEMPrekey(for: name("dora"), allowOneTime: true) }
        #expect(try world.prekeys.kemPrekeyStatus(for: name("dora"), limit: 1000).oneTimeIDs.count == 20)
        try await dora.client.maintainPrekeys()
        let topped = try world.prekeys.kemPrekeyStatus(for: name("dora"), limit: 1000)
        #expect(topped.oneTimeIDs.count == 100)
        #expect(topped.lastResortID == firstLastResort)
        for id in topped.oneTimeIDs { #expect(try device.stores.keys.kemPrekeyPair(id: id) != nil) }

        // Day 8: the last-resort key is a week old: a new one is published, the old secret kept.
        clock.advance(by: .seconds(8 * 24 * 3600))
        try await dora.client.maintainPrekeys()
        let rotated = try #require(try world.prekeys.kemPrekeyStatus(for: name("dora"), limit: 1000).lastResortID)
        #expect(rotated != firstLastResort)
        #expect(try device.stores.keys.kemPrekeyPair(id: firstLastResort) != nil)
        // Day 23: 14 days after its successor was made, the old last-resort secret is erased.
        clock.advance(by: .seconds(15 * 24 * 3600))
        try await dora.client.maintainPrekeys()
        #expect(try device.stores.keys.kemPrekeyPair(id: firstLastResort) == nil)
        let lastResorts = try device.stores.keys.kemPrekeyPairs().filter(\.isLastResort)
        #expect(lastResorts.contains { $0.id == rotated })
        await dora.disconnect()
    }
}
