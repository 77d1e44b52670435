import ClientCore
import Prekeys
import Primitives
import SystemClock
import Testing
import WireProtocol

/// The client erases one-time prekey secrets the server handed out that nobody used (issue 10,
/// finding 7), after a retention for first messages still in flight.
@Suite("Handed-out one-time prekeys", .shutsDownConnections, .timeLimit(.minutes(2)))
struct PrekeyExpiryTests {
    @Test("secrets of one-time prekeys handed out but never used are erased after 30 days, others kept")
    func handedOutUnusedPrekeysExpire() async throws {
        let world = try TestWorld()
        let clock = ManualClock(SystemWallClock().now())
        let device = try world.device("bob")
        let bob = try world.connect(device, clock: clock)
        try await bob.client.register(username: name("bob"), password: password())
        // Fetches that never lead to a message take ten one-time prekeys.
        var taken: [UInt32] = []
        for _ in 0..<10 {
            if let id = try world.prekeys.takePrekeys(for: name("bob"))?.oneTimePrekey?.id { taken.append(id) }
        }
        #expect(taken.count == 10)
        try await bob.client.maintainPrekeys()
        for id in taken { #expect(try device.stores.keys.oneTimePrekeyPair(id: id) != nil, "kept while a first message may be in flight") }
        clock.advance(by: .seconds(31 * 24 * 3600))
        try await bob.client.maintainPrekeys()
        for id in taken { #expect(try device.stores.keys.oneTimePrekeyPair(id: id) == nil, "erased after the retention") }
        // Those still on the server keep their secrets.
        let still = try #require(try world.prekeys.takePrekeys(for: name("bob"))?.oneTimePrekey)
        #expect(try device.stores.keys.oneTimePrekeyPair(id: still.id) != nil)
    }
}

@Suite("Handed-out one-time prekeys: the record", .shutsDownConnections)
struct HandedOutPrekeysTests {
    @Test("the record round trips, refuses what it did not write, and a used id leaves it")
    func encoding() throws {
        let start = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
        let value = HandedOutPrekeys(floor: 7, firstSeenMissing: [9: start, 8: start.adding(.seconds(1))])
        #expect(try HandedOutPrekeys(decoding: value.encoded()) == value)
        #expect(throws: DecodingError.self) { try HandedOutPrekeys(decoding: [2] + value.encoded().dropFirst()) }
        #expect(throws: DecodingError.self) { try HandedOutPrekeys(decoding: value.encoded() + [0]) }
        #expect(throws: DecodingError.self) { try HandedOutPrekeys(decoding: [1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]) }
        // Ids 1...5 published; the server holds 4 and 5; 2's secret was used by a first message.
        let first = try HandedOutPrekeys().reconciling(serverHolds: [4, 5], nextID: 6, now: start) { $0 != 2 }
        #expect(first.expired == [])
        #expect(first.next == HandedOutPrekeys(floor: 4, firstSeenMissing: [1: start, 3: start]))
        // 3 is used later; 1 never is.
        let later = start.adding(PrekeyPolicy.handedOutOneTimePrekeyRetention)
        let second = try first.next.reconciling(serverHolds: [4, 5], nextID: 6, now: later) { $0 != 2 && $0 != 3 }
        #expect(second.expired == [1])
        #expect(second.next == HandedOutPrekeys(floor: 4, firstSeenMissing: [:]))
    }
}
