import ClientCore
import Conversations
import Primitives
import Testing

/// Makes a fresh, empty ``EventLog`` with the given bound; called again with the same bound, the
/// SQLite factory reopens the same file (a restart).
public typealias EventLogFactory = @Sendable (EventLogLimits) throws -> any EventLog

/// The behaviour every ``EventLog`` adapter must have: events come back whole, in order, after a
/// cursor; cursors only grow, also past trimming; the log keeps the newest `maxEvents`.
public enum EventLogContract {
    static let roomy = EventLogLimits(maxEvents: 100)
    static let at = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)

    static func sample() throws -> [DurableEvent] {
        let (bob, carol) = (try user("bob"), try user("carol"))
        return [
            .message(try HistoryStoreContract.entry(1, peer: bob, direction: .received, body: .text("héllo\nthere"), status: .delivered, isRequest: true)),
            .message(try HistoryStoreContract.entry(2, peer: carol, direction: .received, body: .image(try HistoryStoreContract.sealedImage(5), width: 3, height: 4), status: .delivered)),
            .receipts(peer: bob, ids: [try HistoryStoreContract.messageID(7), try HistoryStoreContract.messageID(8)], status: .read),
            .requestDeclined(carol),
            .identityChanged(bob),
            .connection(connected: false, reason: "the connection to the server closed"),
        ]
    }

    public static let checks: [ContractCheck<EventLogFactory>] = [
        ContractCheck("a new log is empty, at cursor 0") { make in
            let log = try make(roomy)
            #expect(try log.latestCursor() == 0)
            #expect(try log.oldestCursor() == nil)
            #expect(try log.events(after: 0, limit: 10) == [])
        },
        ContractCheck("every kind of event comes back whole, in order, with growing cursors") { make in
            let log = try make(roomy)
            let events = try sample()
            var cursors: [UInt64] = []
            for event in events { cursors.append(try log.append(event, at: at)) }
            #expect(cursors == Array(1...UInt64(events.count)))
            let read = try log.events(after: 0, limit: 100)
            #expect(read.map(\.event) == events)
            #expect(read.map(\.cursor) == cursors)
            #expect(read.allSatisfy { $0.at == at })
            #expect(try log.latestCursor() == UInt64(events.count))
        },
        ContractCheck("reading after a cursor gives only what follows it, up to the limit") { make in
            let log = try make(roomy)
            for event in try sample() { _ = try log.append(event, at: at) }
            #expect(try log.events(after: 2, limit: 2).map(\.cursor) == [3, 4])
            #expect(try log.events(after: 6, limit: 10) == [])
            #expect(try log.events(after: 1_000, limit: 10) == [])
        },
        ContractCheck("past its bound the oldest are dropped, and cursors are never reused") { make in
            let log = try make(EventLogLimits(maxEvents: 3))
            for _ in 0..<5 { _ = try log.append(.requestDeclined(try user("bob")), at: at) }
            #expect(try log.events(after: 0, limit: 10).map(\.cursor) == [3, 4, 5])
            #expect(try log.oldestCursor() == 3)
            #expect(try log.append(.identityChanged(try user("bob")), at: at) == 6)
        },
    ]
}
