import Accounts
import Dispatch
import Foundation
import PostgresTestCluster
import Primitives
import ServerCore
import Testing

@testable import PostgresStore

/// The event bus across two nodes (two store and bus instances on one database).
@Suite("PostgreSQL event bus across nodes", .enabled(if: PostgresCluster.shouldRun, "PostgreSQL is not installed"), .timeLimit(.minutes(2)))
struct PostgresEventBusTests {
    @Test func mailCommittedOnOneNodeReachesASubscriberOnAnother() async throws {
        try await withTestDatabase { database in
            let nodes = try await TwoNodes(database)
            let (storeA, busB) = (nodes.storeA, nodes.busB)
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
            let nodes = try await TwoNodes(database)
            let alice = try Username("alice")
            let onA = EventRecorder(alice, on: nodes.busA)
            let onB = EventRecorder(alice, on: nodes.busB)
            defer { onA.cancel(); onB.cancel() }
            let events: [AccountEvent] = [.sessionClaimed(SessionToken(rawValue: .max)), .prekeysLow(remaining: 3), .accountDeleted]
            for event in events { nodes.busA.publish(event, to: alice) }
            #expect(onA.events == events, "the publishing node's subscribers get them at once, and not twice")
            try await eventually { onB.events == events }
            try await Task.sleep(for: .milliseconds(200))
            #expect(onA.events == events)
        }
    }

    @Test func afterTheListenerReconnectsSubscribedMailboxesAreRescanned() async throws {
        try await withTestDatabase { database in
            let nodes = try await TwoNodes(database)
            let bob = try Username("bob")
            let received = LockedValue<[MailboxEnvelope]>([])
            let subscription = nodes.busB.subscribe(bob) { event in
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
            let sent = try nodes.storeA.mailbox.enqueue([
                MailboxEnvelopeDraft(sender: try Username("alice"), recipient: bob, payload: [1], acceptedAt: Timestamp(millisecondsSinceEpoch: 5)),
            ]).compactMap { outcome -> MailboxEnvelope? in if case .accepted(let envelope) = outcome { envelope } else { nil } }
            try await eventually { nodes.busB.listenerConnections >= 2 }
            try await eventually { received.withLock { $0 } == sent }
        }
    }

    @Test func aLoginOnAnotherNodeWhileTheListenerIsDownEndsTheSessionOnceItReconnects() async throws {
        try await withTestDatabase { database in
            let nodes = try await TwoNodes(database)
            let alice = try nodes.createAccount("alice", in: nodes.storeA)
            let onA = EventRecorder(alice, on: nodes.busA)
            defer { onA.cancel() }
            // Alice's session on node A, as ConnectionSession announces it.
            let (onNodeA, onNodeB) = (SessionToken(rawValue: 0xA), SessionToken(rawValue: .max - 0xB))
            try await nodes.claimAndWaitUntilWritten(onNodeA, for: alice, onNodeA: true)
            // Node A's listener is cut and cannot come back while alice logs in on node B: the
            // claim's NOTIFY is lost for node A.
            try await withNewConnectionsRefused(database, cutting: "node-a") {
                nodes.busB.publish(.sessionClaimed(onNodeB), to: alice)
                try await eventually { Self.owner(of: alice, in: nodes.storeB)?.token == onNodeB }
                try await Task.sleep(for: .milliseconds(300))
                #expect(nodes.busA.listenerConnections == 1, "node A's listener stayed down")
                #expect(onA.events == [.sessionClaimed(onNodeA)])
            }
            try await eventually { nodes.busA.listenerConnections >= 2 }
            // After reconnecting, node A reads the owner: its session is claimed and ends.
            try await eventually { onA.events == [.sessionClaimed(onNodeA), .sessionClaimed(onNodeB)] }
            try await Task.sleep(for: .milliseconds(300))
            #expect(onA.events == [.sessionClaimed(onNodeA), .sessionClaimed(onNodeB)], "the claim is applied once")
        }
    }

    @Test func anAccountDeletedOnAnotherNodeWhileTheListenerIsDownEndsItsSessionOnceItReconnects() async throws {
        try await withTestDatabase { database in
            let nodes = try await TwoNodes(database)
            let alice = try nodes.createAccount("alice", in: nodes.storeA)
            let onA = EventRecorder(alice, on: nodes.busA)
            defer { onA.cancel() }
            let onNodeA = SessionToken(rawValue: 7)
            try await nodes.claimAndWaitUntilWritten(onNodeA, for: alice, onNodeA: true)
            try await withNewConnectionsRefused(database, cutting: "node-a") {
                // As the server does: delete, then announce (the NOTIFY is lost for node A).
                #expect(try nodes.storeB.accountDeletion.deleteAccount(alice))
                nodes.busB.publish(.accountDeleted, to: alice)
                try await Task.sleep(for: .milliseconds(300))
                #expect(onA.events == [.sessionClaimed(onNodeA)])
            }
            try await eventually { nodes.busA.listenerConnections >= 2 }
            try await eventually { onA.events == [.sessionClaimed(onNodeA), .accountDeleted] }
            #expect(Self.owner(of: alice, in: nodes.storeB).map { $0.token == nil && $0.generation == 2 } == true, "a tombstone, one generation on")
        }
    }

    @Test func aClaimThatCouldNotBeWrittenIsWrittenOnceTheDatabaseIsBackAndEndsTheOtherNodesSession() async throws {
        try await withTestDatabase { database in
            let nodes = try await TwoNodes(database)
            let alice = try nodes.createAccount("alice", in: nodes.storeB)
            let onB = EventRecorder(alice, on: nodes.busB)
            defer { onB.cancel() }
            let (onNodeA, onNodeB) = (SessionToken(rawValue: 21), SessionToken(rawValue: 22))
            try await nodes.claimAndWaitUntilWritten(onNodeB, for: alice, onNodeA: false)
            let onA = EventRecorder(alice, on: nodes.busA)
            defer { onA.cancel() }
            // Alice logs in on node A while node A cannot reach the database: the claim holds
            // locally and cannot be written or announced yet.
            try await withNewConnectionsRefused(database, cutting: "node-a") {
                nodes.busA.publish(.sessionClaimed(onNodeA), to: alice)
                try await Task.sleep(for: .milliseconds(300))
                #expect(nodes.busA.hasUnwrittenClaim(for: alice))
                #expect(onB.events == [.sessionClaimed(onNodeB)])
            }
            // Once node A reaches the database again, its claim is written and node B's session ends.
            try await eventually { Self.owner(of: alice, in: nodes.storeB)?.token == onNodeA }
            try await eventually { onB.events == [.sessionClaimed(onNodeB), .sessionClaimed(onNodeA)] }
            try await eventually { nodes.busA.listenerConnections >= 2 && !nodes.busA.hasUnwrittenClaim(for: alice) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(onA.events == [.sessionClaimed(onNodeA)], "node A's own session stays")
        }
    }

    @Test func twoLoginsOnTwoNodesAtOnceLeaveExactlyOneSession() async throws {
        try await withTestDatabase { database in
            let nodes = try await TwoNodes(database)
            let (busA, busB, storeA) = (nodes.busA, nodes.busB, nodes.storeA)
            for round in 0..<10 {
                let user = try Username("user\(round)")
                let onA = EventRecorder(user, on: busA)
                let onB = EventRecorder(user, on: busB)
                defer { onA.cancel(); onB.cancel() }
                let (tokenA, tokenB) = (SessionToken(rawValue: UInt64(2 * round + 1)), SessionToken(rawValue: UInt64(2 * round + 2)))
                // Each session ends when it is told of a claim by another token after its own (a
                // server subscribes and claims in one step; here the test's two publishes can be
                // far apart on a loaded machine, and a claim node B applied before its own publish
                // would end no session it had yet).
                let endedA: @Sendable () -> Bool = { Self.endedAfterClaiming(onA.events, tokenA) }
                let endedB: @Sendable () -> Bool = { Self.endedAfterClaiming(onB.events, tokenB) }
                busA.publish(.sessionClaimed(tokenA), to: user)
                busB.publish(.sessionClaimed(tokenB), to: user)
                try await eventually { endedA() || endedB() }
                try await eventually { Self.owner(of: user, in: storeA)?.generation == 2 }
                try await Task.sleep(for: .milliseconds(300))
                #expect(endedA() != endedB(), "round \(round): exactly one of the two sessions ended (A: \(onA.events), B: \(onB.events))")
                let survivor = endedA() ? tokenB : tokenA
                #expect(Self.owner(of: user, in: storeA)?.token == survivor, "the survivor is the owner written last")
            }
        }
    }

    /// Whether `events` hold, after the session's own claim by `token`, an event that ends it.
    static func endedAfterClaiming(_ events: [AccountEvent], _ token: SessionToken) -> Bool {
        guard let own = events.firstIndex(of: .sessionClaimed(token)) else { return false }
        return events[(own + 1)...].contains { $0 != .sessionClaimed(token) }
    }

    static func account(_ username: Username) throws -> AccountRecord {
        AccountRecord(
            username: username, passwordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
            identityKey: try Ed25519PublicKey(bytes: [UInt8](repeating: 1, count: 32)),
            identitySignature: nil, createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000), failedLoginCount: 0, lockedUntil: nil)
    }

    /// `user`'s row in `session_owners`, read through `store` (nil when absent or unreadable).
    static func owner(of user: Username, in store: PostgresServerStore) -> (token: SessionToken?, generation: Int64)? {
        try? store.pool.withSession { session throws(StoreError) -> (token: SessionToken?, generation: Int64)? in
            guard let row = try session.query("SELECT token, generation FROM session_owners WHERE username = \(user.value)").first else { return nil }
            let (token, generation) = try row.values((Int64?, Int64).self)
            return (token.map { SessionToken(rawValue: UInt64(bitPattern: $0)) }, generation)
        }
    }
}

/// Nodes A and B on one database, as most of these tests start: a store (`--node-id node-a`,
/// `node-b`) and an event bus each, both buses listening.
struct TwoNodes: Sendable {
    let storeA: PostgresServerStore
    let storeB: PostgresServerStore
    let busA: PostgresEventBus
    let busB: PostgresEventBus

    init(_ database: PostgresTestDatabase) async throws {
        let (storeA, storeB) = (try database.store(nodeID: "node-a"), try database.store(nodeID: "node-b"))
        let (busA, busB) = (database.bus(storeA), database.bus(storeB))
        self.storeA = storeA
        self.storeB = storeB
        self.busA = busA
        self.busB = busB
        try await eventually { busA.listenerConnections >= 1 && busB.listenerConnections >= 1 }
    }

    /// Creates the account `name` through `store` (either node's: they share the database).
    func createAccount(_ name: String, in store: PostgresServerStore) throws -> Username {
        let user = try Username(name)
        try store.accounts.create(try PostgresEventBusTests.account(user))
        return user
    }

    /// A session of `user` on node A (or B), announced as ConnectionSession does, and a wait until
    /// its claim is in `session_owners` and the bus holds no unwritten claim.
    func claimAndWaitUntilWritten(_ token: SessionToken, for user: Username, onNodeA: Bool) async throws {
        let (bus, store) = onNodeA ? (busA, storeA) : (busB, storeB)
        bus.publish(.sessionClaimed(token), to: user)
        try await eventually { PostgresEventBusTests.owner(of: user, in: store)?.token == token && !bus.hasUnwrittenClaim(for: user) }
    }
}

/// Records every event a bus hands a subscriber of `user`, until ``cancel()``.
final class EventRecorder: Sendable {
    private let recorded: LockedValue<[AccountEvent]>
    private let subscription: AccountEventHandlerSubscription

    init(_ user: Username, on bus: PostgresEventBus) {
        let recorded = LockedValue<[AccountEvent]>([])
        self.recorded = recorded
        subscription = bus.subscribe(user) { event in recorded.withLock { $0.append(event) } }
    }

    var events: [AccountEvent] { recorded.withLock { $0 } }

    func cancel() { subscription.cancel() }
}

/// Runs `body` while `database` accepts no new connection, after terminating every connection
/// of node `node` (its listener among them), so that node cannot reconnect until `body` ends.
/// The other nodes keep the connections they have.
func withNewConnectionsRefused(_ database: PostgresTestDatabase, cutting node: String, _ body: () async throws -> Void) async throws {
    let cluster = try PostgresCluster.shared()
    let name = database.url.database
    try cluster.psql("ALTER DATABASE \(name) ALLOW_CONNECTIONS false")
    defer { _ = try? cluster.psql("ALTER DATABASE \(name) ALLOW_CONNECTIONS true") }
    try cluster.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'parley-server \(node)' AND datname = '\(name)'")
    try await body()
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
