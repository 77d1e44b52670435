import Dispatch
import Foundation
import PostgresStore
import PostgresTestCluster
import Primitives
import ServerCore
import Testing

/// The event bus across two nodes (two store and bus instances on one database).
@Suite("PostgreSQL event bus across nodes", .enabled(if: PostgresCluster.shouldRun, "PostgreSQL is not installed"), .timeLimit(.minutes(2)))
struct PostgresEventBusTests {
    @Test func mailCommittedOnOneNodeReachesASubscriberOnAnother() async throws {
        try await withTestDatabase { database in
            let (storeA, storeB) = (try database.store(nodeID: "node-a"), try database.store(nodeID: "node-b"))
            let busB = database.bus(storeB)
            _ = database.bus(storeA)
            try await eventually { busB.listenerConnections >= 1 }
            let bob = try Username("bob")
            let received = LockedValue<[MailboxEnvelope]>([])
            let subscription = busB.subscribe(bob) { event in
                if case .envelopesStored(let envelopes) = event { received.withLock { $0 += envelopes } }
            }
            defer { subscription.cancel() }
            let sent = try storeA.mailbox.enqueue((0..<3).map { item in
                MailboxEnvelopeDraft(sender: try Username("alice"), recipient: bob, payload: [UInt8(item)], acceptedAt: Timestamp(millisecondsSinceEpoch: 5))
            }).compactMap { outcome -> MailboxEnvelope? in if case .accepted(let envelope) = outcome { envelope } else { nil } }
            try await eventually { received.withLock { $0 } == sent }
            // More mail: only what is new is delivered, in order.
            let more = try storeA.mailbox.enqueue([MailboxEnvelopeDraft(sender: try Username("carol"), recipient: bob, payload: [9], acceptedAt: Timestamp(millisecondsSinceEpoch: 6))])
                .compactMap { outcome -> MailboxEnvelope? in if case .accepted(let envelope) = outcome { envelope } else { nil } }
            try await eventually { received.withLock { $0 } == sent + more }
        }
    }

    @Test func aNodesOwnMailEventIsDeliveredFromTheMailboxInIdOrder() async throws {
        try await withTestDatabase { database in
            let store = try database.store(nodeID: "node-a")
            let bus = database.bus(store)
            let bob = try Username("bob")
            let received = LockedValue<[MailboxEnvelope]>([])
            let subscription = bus.subscribe(bob) { event in
                if case .envelopesStored(let envelopes) = event { received.withLock { $0 += envelopes } }
            }
            defer { subscription.cancel() }
            let sent = try store.mailbox.enqueue((0..<2).map { item in
                MailboxEnvelopeDraft(sender: try Username("alice"), recipient: bob, payload: [UInt8(item)], acceptedAt: Timestamp(millisecondsSinceEpoch: 5))
            }).compactMap { outcome -> MailboxEnvelope? in if case .accepted(let envelope) = outcome { envelope } else { nil } }
            // As the server's mailbox writer does after its commit: only the last is named.
            bus.publish(.envelopesStored([sent[1]]), to: bob)
            try await eventually { received.withLock { $0 } == sent }
        }
    }

    @Test func sessionClaimsLowPrekeysAndDeletionsReachTheOtherNode() async throws {
        try await withTestDatabase { database in
            let (busA, busB) = (database.bus(try database.store(nodeID: "node-a")), database.bus(try database.store(nodeID: "node-b")))
            try await eventually { busA.listenerConnections >= 1 && busB.listenerConnections >= 1 }
            let alice = try Username("alice")
            let onA = LockedValue<[AccountEvent]>([])
            let onB = LockedValue<[AccountEvent]>([])
            let subscriptionA = busA.subscribe(alice) { event in onA.withLock { $0.append(event) } }
            let subscriptionB = busB.subscribe(alice) { event in onB.withLock { $0.append(event) } }
            defer { subscriptionA.cancel(); subscriptionB.cancel() }
            let events: [AccountEvent] = [.sessionClaimed(SessionToken(rawValue: .max)), .prekeysLow(remaining: 3), .accountDeleted]
            for event in events { busA.publish(event, to: alice) }
            #expect(onA.withLock { $0 } == events, "the publishing node's subscribers get them at once, and not twice")
            try await eventually { onB.withLock { $0 } == events }
            try await Task.sleep(for: .milliseconds(200))
            #expect(onA.withLock { $0 } == events)
        }
    }

    @Test func afterTheListenerReconnectsSubscribedMailboxesAreRescanned() async throws {
        try await withTestDatabase { database in
            let (storeA, storeB) = (try database.store(nodeID: "node-a"), try database.store(nodeID: "node-b"))
            let busB = database.bus(storeB)
            try await eventually { busB.listenerConnections >= 1 }
            let bob = try Username("bob")
            let received = LockedValue<[MailboxEnvelope]>([])
            let subscription = busB.subscribe(bob) { event in
                if case .envelopesStored(let envelopes) = event { received.withLock { $0 += envelopes } }
            }
            defer { subscription.cancel() }
            // Cut node B's connections (its listener among them), and send while it is away: the
            // hint may be lost, the rescan after reconnecting finds the mail.
            try PostgresCluster.shared().psql(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE application_name = 'parley-server node-b' AND datname = '\(database.url.database)'
                """)
            let sent = try storeA.mailbox.enqueue([
                MailboxEnvelopeDraft(sender: try Username("alice"), recipient: bob, payload: [1], acceptedAt: Timestamp(millisecondsSinceEpoch: 5)),
            ]).compactMap { outcome -> MailboxEnvelope? in if case .accepted(let envelope) = outcome { envelope } else { nil } }
            try await eventually { busB.listenerConnections >= 2 }
            try await eventually { received.withLock { $0 } == sent }
        }
    }
}

/// Waits until `condition` holds, polling, for at most `seconds`.
func eventually(within seconds: Double = 10, _ condition: @Sendable () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else {
            Issue.record("the condition did not hold within \(seconds) s", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
