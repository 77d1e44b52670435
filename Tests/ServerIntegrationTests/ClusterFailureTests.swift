import Foundation
import PostgresTestCluster
import Primitives
import Testing
import WireProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12's failures on a running cluster of two `parley-server` processes: a node SIGKILLed
/// under load, and PostgreSQL itself stopped and started under both nodes.
@Suite(
    "A cluster of two parley-server processes survives a killed node and a PostgreSQL restart", .serialized,
    .enabled(if: PostgresCluster.shouldRun, "PostgreSQL is not installed"), .timeLimit(.minutes(5)))
struct ClusterFailureTests {
    static let senders = 10
    static let messagesPerSender = 500
    /// Accepted sends (of all 5,000) after which node A is killed.
    static let killAfterAccepted = 1500

    let environment: IntegrationEnvironment

    init() throws {
        environment = try IntegrationEnvironment()
    }

    /// A sender's message: its index and its counter in one 8-byte payload.
    static func payload(sender: Int, counter: Int) -> [UInt8] { counterPayload(UInt64(sender) << 32 | UInt64(counter)) }

    /// One send, answered or not.
    enum Outcome: Sendable {
        case accepted
        case refused(String)
        case connectionLost
    }

    /// Sends `sender`'s counters from `first` one after another (each after the previous answer,
    /// so "accepted earlier" is well defined), recording each accepted one; returns at the first
    /// lost connection the next counter to send.
    static func sendInOrder(
        _ sender: Int, from first: Int, over session: WireSession, to recipient: TestAccount,
        accepted: Observed<UInt64>, errors: Observed<String>
    ) async -> Int {
        var counter = first
        while counter < messagesPerSender {
            let answer: Response.Body
            do {
                answer = try await session.call(recipient.envelope(payload(sender: sender, counter: counter)))
            } catch {
                // The node went away mid-request: this counter's fate is unknown (committed or
                // not); it is never resent, so it may be delivered at most once, or not at all.
                return counter + 1
            }
            if acceptedID(answer) != nil {
                accepted.append(UInt64(sender) << 32 | UInt64(counter))
            } else {
                errors.append("sender \(sender) counter \(counter): \(answer)")
            }
            counter += 1
        }
        return counter
    }

    @Test("SIGKILL of node A while 10 clients on both nodes send 5,000 messages: after A restarts every accepted envelope is delivered exactly once, in per-sender order")
    func acceptedMailSurvivesAKilledNode() async throws {
        let recipients = [try environment.account("carol"), try environment.account("dave")]
        let senders = try (0..<Self.senders).map { try environment.account("sender\($0)") }
        // The minimum Argon2id cost: twelve registrations and re-logins are not what is under test.
        let nodes = try await ClusterNodes(
            cluster: PostgresCluster.shared(), label: "sigkill", extraArguments: ["--insecure-password-cost-for-benchmarks", "minimum"])
        defer { nodes.stopAll() }
        let nodeA = try await nodes.start("node-a")
        let nodeB = try await nodes.start("node-b")
        for recipient in recipients {
            try await environment.withSession(nodeB) { session async throws in
                #expect(try await session.call(recipient.register) == .loggedIn(pending: 0))
            }
        }
        let accepted = Observed<UInt64>()
        let errors = Observed<String>()
        let failovers = Observed<Int>()
        // Senders 0...4 on node A, 5...9 on node B, sender i writing to recipient i % 2. A sender
        // whose node dies goes on through node B, from its next counter, as a client with both
        // addresses does.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, sender) in senders.enumerated() {
                let home = index < Self.senders / 2 ? nodeA : nodeB
                let recipient = recipients[index % 2]
                group.addTask {
                    let progress = LockedValue(0)
                    do {
                        try await environment.withSession(home) { session in
                            let registered = try await session.call(sender.register)
                            guard registered == .loggedIn(pending: 0) else { throw ServerProcess.StartFailure(description: "register: \(registered)") }
                            let next = await Self.sendInOrder(index, from: 0, over: session, to: recipient, accepted: accepted, errors: errors)
                            progress.withLock { $0 = next }
                        }
                    } catch {
                        // Closing a connection to the killed node may fail too; only a sender
                        // that never got going is a failure.
                        guard progress.withLock({ $0 }) > 0 else { throw error }
                    }
                    let next = progress.withLock { $0 }
                    if next < Self.messagesPerSender {
                        failovers.append(index)
                        try await environment.withSession(nodeB) { session in
                            let login = try await session.call(sender.login)
                            guard case .loggedIn = login else { throw ServerProcess.StartFailure(description: "login on B: \(login)") }
                            let end = await Self.sendInOrder(index, from: next, over: session, to: recipient, accepted: accepted, errors: errors)
                            #expect(end == Self.messagesPerSender, "sender \(index) lost node B too")
                        }
                    }
                }
            }
            group.addTask {
                try await accepted.wait(forCount: Self.killAfterAccepted, "\(Self.killAfterAccepted) accepted envelopes", within: .seconds(120))
                nodeA.send(SIGKILL)
            }
            try await group.waitForAll()
        }
        #expect(try await nodeA.waitForExit(within: .seconds(10)) == ProcessExit(exited: false, status: SIGKILL))
        #expect(errors.elements.isEmpty, "error answers: \(errors.elements.prefix(5))")
        let acceptedSet = Set(accepted.elements)
        #expect(acceptedSet.count == accepted.elements.count)
        #expect(acceptedSet.count >= Self.killAfterAccepted)
        // Not a crash test unless the kill cut senders off in the middle of their streams.
        #expect(!failovers.elements.isEmpty, "node A's senders had all finished before the kill")
        #expect(failovers.elements.allSatisfy { $0 < Self.senders / 2 }, "only node A's senders lose their node")
        // At most one send per sender was cut off unanswered (its fate unknown); all others were accepted.
        #expect(acceptedSet.count >= Self.senders * Self.messagesPerSender - failovers.elements.count)

        // Node A comes back on the same database; carol collects on it, dave on node B.
        let restarted = try await nodes.start("node-a")
        for (index, recipient) in recipients.enumerated() {
            let node = index == 0 ? restarted : nodeB
            try await environment.withSession(node) { session in
                let login = try await session.call(recipient.login)
                guard case .loggedIn(let pendingCount) = login else {
                    Issue.record("\(recipient.username) could not log in: \(login)")
                    return
                }
                let pending = Int(pendingCount)
                let deliveries = try await session.waitForDeliveries(pending, within: .seconds(60))
                // Catch-up pushes precede the answer to any later request.
                #expect(try await session.call(.ping) == .pong)
                #expect(session.deliveries.count == pending)
                let values = deliveries.compactMap { counter(in: $0.envelope) }
                #expect(values.count == deliveries.count, "every payload is one of the 8-byte counters")
                #expect(Set(values).count == values.count, "an envelope was delivered twice")
                #expect(Set(deliveries.map(\.id)).count == deliveries.count, "an envelope id was delivered twice")
                let mine = Set(acceptedSet.filter { Int($0 >> 32) % 2 == index })
                let lost = mine.subtracting(values)
                #expect(lost.isEmpty, "\(lost.count) accepted envelopes for \(recipient.username) were lost")
                // Per sender, in the order the sender had them accepted.
                var last: [UInt64: UInt64] = [:]
                for value in values {
                    let (sender, sequence) = (value >> 32, value & 0xffff_ffff)
                    #expect(Int(sender) % 2 == index && sequence < UInt64(Self.messagesPerSender))
                    if let previous = last[sender] { #expect(sequence > previous, "sender \(sender): \(sequence) after \(previous)") }
                    last[sender] = sequence
                }
                #expect(try await session.call(.acknowledge(ids: deliveries.map(\.id))) == .ok)
                #expect(try await session.call(.logout) == .ok)
                // Exactly once: acknowledged mail is not delivered again.
                #expect(try await session.call(recipient.login) == .loggedIn(pending: 0))
            }
        }
    }

    @Test("PostgreSQL stopped under both nodes: sends are refused as storage unavailable, never accepted, and both nodes recover by themselves")
    func bothNodesRideOutAPostgreSQLRestart() async throws {
        let (alice, bob) = (try environment.account("alice"), try environment.account("bob"))
        // A cluster of its own: stopping the shared one would fail other suites' tests.
        let cluster = try PostgresCluster.startPrivate()
        defer { cluster.stop() }
        let nodes = try await ClusterNodes(cluster: cluster, label: "pg-restart")
        defer { nodes.stopAll() }
        let nodeA = try await nodes.start("node-a")
        let nodeB = try await nodes.start("node-b")
        try await environment.withSession(nodeA) { aliceOnA in
            #expect(try await aliceOnA.call(alice.register) == .loggedIn(pending: 0))
            try await environment.withSession(nodeB) { bobOnB in
                #expect(try await bobOnB.call(bob.register) == .loggedIn(pending: 0))
                #expect(acceptedID(try await aliceOnA.call(bob.envelope(Array("before".utf8)))) != nil)
                try await bobOnB.waitForDeliveries(1, within: .seconds(20))

                try cluster.stopServer()
                for (session, recipient, text) in [(aliceOnA, bob, "during a->b"), (bobOnB, alice, "during b->a")] {
                    for attempt in 0..<3 {
                        let answer = try await session.call(recipient.envelope(Array("\(text) \(attempt)".utf8)))
                        guard case .error(let error) = answer else {
                            Issue.record("a send while PostgreSQL is down was answered \(answer)")
                            continue
                        }
                        #expect(error.code == .unavailable && error.message.contains("storage unavailable"), "\(error)")
                    }
                }
                // Not only sends: any request that needs storage says so, on either node (a
                // registration on a fresh connection, a prekey count in a session).
                let carol = try environment.account("carol")
                try await environment.withSession(nodeB) { carolOnB in
                    let answer = try await carolOnB.call(carol.register)
                    guard case .error(let error) = answer else {
                        Issue.record("a registration while PostgreSQL is down was answered \(answer)")
                        return
                    }
                    #expect(error.code == .unavailable && error.message.contains("storage unavailable"), "\(error)")
                }
                let count = try await aliceOnA.call(.prekeyCount)
                #expect(errorCode(count) == .unavailable, "\(count)")
                try cluster.startServer()

                // Each node recovers by itself: a send is accepted again (the first may still meet
                // a connection that died with the old server) and is pushed live across nodes.
                for (session, peer, recipient, text) in [(aliceOnA, bobOnB, bob, "after a->b"), (bobOnB, aliceOnA, alice, "after b->a")] {
                    let before = peer.deliveries.count
                    var acceptedAfter = false
                    for _ in 0..<40 where !acceptedAfter {
                        let answer = try await session.call(recipient.envelope(Array(text.utf8)))
                        if acceptedID(answer) != nil {
                            acceptedAfter = true
                        } else {
                            #expect(errorCode(answer) == .unavailable, "\(answer)")
                            try await Task.sleep(for: .milliseconds(250))
                        }
                    }
                    #expect(acceptedAfter, "no send was accepted within 40 tries after PostgreSQL came back")
                    let arrived = try await peer.waitForDeliveries(before + 1, within: .seconds(30))
                    #expect(arrived.last?.envelope == Array(text.utf8))
                }
                // Nothing refused was stored: only the accepted envelopes ever arrive.
                #expect(try await bobOnB.call(.ping) == .pong)
                #expect(try await aliceOnA.call(.ping) == .pong)
                #expect(bobOnB.deliveries.map { String(decoding: $0.envelope, as: UTF8.self) } == ["before", "after a->b"])
                #expect(aliceOnA.deliveries.map { String(decoding: $0.envelope, as: UTF8.self) } == ["after b->a"])
            }
        }
        _ = (nodeA, nodeB)
    }
}
