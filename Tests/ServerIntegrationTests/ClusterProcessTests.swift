import Foundation
import PostgresTestCluster
import Primitives
import Testing
import WireProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12 end to end: two real `parley-server` processes (node A and node B) on one PostgreSQL
/// database of a throwaway cluster, sharing one `--key-file`, driven by wire-level clients over
/// real Noise/TCP and by the real `parley` client.
///
/// Waits are generous bounds, never speed assertions: a live push must arrive while its
/// recipient's session is open (within 20 s), not on a later login.
@Suite(
    "Two parley-server processes on one PostgreSQL", .serialized,
    .enabled(if: PostgresCluster.shouldRun, "PostgreSQL is not installed"), .timeLimit(.minutes(5)))
struct ClusterProcessTests {
    let environment: IntegrationEnvironment

    init() throws {
        environment = try IntegrationEnvironment()
    }

    /// Two nodes on a fresh database of the process's shared cluster, stopped whatever `body` does.
    /// Passwords are hashed at the minimum Argon2id cost: logins are not what is under test, and
    /// a dozen at the interactive cost (64 MiB each) would only load the machine.
    func withTwoNodes<Result: Sendable>(
        _ label: String, _ body: (ClusterNodes, ServerProcess, ServerProcess) async throws -> Result
    ) async throws -> Result {
        let nodes = try await ClusterNodes(
            cluster: PostgresCluster.shared(), label: label, extraArguments: ["--insecure-password-cost-for-benchmarks", "minimum"])
        defer { nodes.stopAll() }
        let nodeA = try await nodes.start("node-a")
        let nodeB = try await nodes.start("node-b")
        return try await body(nodes, nodeA, nodeB)
    }

    static func payload(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("alice on node A and bob on node B: messages both ways are pushed live across the nodes")
    func liveDeliveryBothWays() async throws {
        let (alice, bob) = (try environment.account("alice"), try environment.account("bob"))
        try await withTwoNodes("live") { _, nodeA, nodeB in
            try await environment.withSession(nodeA) { aliceSession in
                #expect(try await aliceSession.call(alice.register) == .loggedIn(pending: 0))
                try await environment.withSession(nodeB) { bobSession in
                    #expect(try await bobSession.call(bob.register) == .loggedIn(pending: 0))
                    for round in 0..<3 {
                        let toBob = try await aliceSession.call(bob.envelope(Self.payload("a->b \(round)")))
                        #expect(acceptedID(toBob) != nil, "\(toBob)")
                        let atBob = try await bobSession.waitForDeliveries(round + 1, within: .seconds(20))
                        #expect(atBob.last?.envelope == Self.payload("a->b \(round)") && atBob.last?.sender == alice.username)
                        let toAlice = try await bobSession.call(alice.envelope(Self.payload("b->a \(round)")))
                        #expect(acceptedID(toAlice) != nil, "\(toAlice)")
                        let atAlice = try await aliceSession.waitForDeliveries(round + 1, within: .seconds(20))
                        #expect(atAlice.last?.envelope == Self.payload("b->a \(round)") && atAlice.last?.sender == bob.username)
                    }
                }
            }
        }
    }

    @Test("bob offline: what was sent through node B waits for him, and he gets it when he logs in on node A")
    func offlineDeliveryOnTheOtherNode() async throws {
        let (alice, bob) = (try environment.account("alice"), try environment.account("bob"))
        try await withTwoNodes("offline") { _, nodeA, nodeB in
            try await environment.withSession(nodeA) { session async throws in
                #expect(try await session.call(bob.register) == .loggedIn(pending: 0))
            }
            try await environment.withSession(nodeB) { session in
                #expect(try await session.call(alice.register) == .loggedIn(pending: 0))
                for index in 0..<5 {
                    let answer = try await session.call(bob.envelope(counterPayload(UInt64(index))))
                    #expect(acceptedID(answer) != nil, "\(answer)")
                }
            }
            try await environment.withSession(nodeA) { session in
                #expect(try await session.call(bob.login) == .loggedIn(pending: 5))
                let deliveries = try await session.waitForDeliveries(5, within: .seconds(20))
                #expect(deliveries.map { counter(in: $0.envelope) } == (0..<5).map { UInt64($0) })
                #expect(try await session.call(.acknowledge(ids: deliveries.map(\.id))) == .ok)
            }
        }
    }

    @Test("a login of alice on node B ends her session on node A with the \"signed in elsewhere\" push")
    func newestLoginWinsAcrossNodes() async throws {
        let alice = try environment.account("alice")
        try await withTwoNodes("claim") { _, nodeA, nodeB in
            try await environment.withSession(nodeA) { onA in
                #expect(try await onA.call(alice.register) == .loggedIn(pending: 0))
                try await environment.withSession(nodeB) { onB in
                    #expect(try await onB.call(alice.login) == .loggedIn(pending: 0))
                    try await onA.pushes.wait("the signed-in-elsewhere push on node A", within: .seconds(20)) { $0.contains(.signedInElsewhere) }
                    // Node A closes the old connection: its push stream ends.
                    try await onA.pushes.waitForEnd("node A closing the old session", within: .seconds(20))
                    // The session on B is the live one.
                    #expect(try await onB.call(.ping) == .pong)
                }
            }
        }
    }

    /// An account has one session at a time, and deleting needs it: so the session on the other
    /// node was already ended by the login (the claim); what is left to check is that the other
    /// node sees the deletion at once. (A session on A that missed the claim, because A's
    /// listener was reconnecting at that moment, is ended by the deletion's own hint; that race
    /// is not provoked here.)
    @Test("deleting the account on node B: its session on node A is gone, and node A knows no such account")
    func accountDeletionReachesTheOtherNode() async throws {
        let (alice, bob) = (try environment.account("alice"), try environment.account("bob"))
        try await withTwoNodes("delete") { _, nodeA, nodeB in
            try await environment.withSession(nodeA) { bobOnA in
                #expect(try await bobOnA.call(bob.register) == .loggedIn(pending: 0))
                try await environment.withSession(nodeA) { aliceOnA in
                    #expect(try await aliceOnA.call(alice.register) == .loggedIn(pending: 0))
                    try await environment.withSession(nodeB) { aliceOnB in
                        // One session per account: logging in on B ends A's (as above); deleting
                        // on B must leave nothing on A either.
                        #expect(try await aliceOnB.call(alice.login) == .loggedIn(pending: 0))
                        try await aliceOnA.pushes.waitForEnd("node A ending alice's session", within: .seconds(20))
                        #expect(try await aliceOnB.call(alice.deleteAccount) == .ok)
                        // The deleting connection stays open, logged out.
                        #expect(errorCode(try await aliceOnB.call(bob.envelope(Self.payload("after deletion")))) == .notAuthenticated)
                    }
                }
                // Node A sees the deletion at once: sends to alice are refused, her login fails.
                let refused = try await bobOnA.call(alice.envelope(Self.payload("to a deleted account")))
                #expect(errorCode(refused) == .unknownUser, "\(refused)")
            }
            try await environment.withSession(nodeA) { session async throws in
                #expect(errorCode(try await session.call(alice.login)) == .invalidCredentials)
            }
        }
    }

    // MARK: The real client

    @Test("the parley client: a home made on node B reads mail on node A, and --server A,B fails over to B when A stops")
    func theClientMovesBetweenNodes() async throws {
        let parley = try ClientBinary.url()
        try await withTwoNodes("client") { nodes, nodeA, nodeB in
            let (a, b) = ("127.0.0.1:\(nodeA.port)", "127.0.0.1:\(nodeB.port)")
            func run(_ user: String, _ servers: String, _ arguments: [String]) async throws -> Command.Output {
                try await Command.run(
                    parley, ["--server", servers, "--home", nodes.directory.file("home-\(user)"), "--user", user, "--password-stdin", "--no-daemon"] + arguments,
                    input: "\(user)-password-123\n", within: .seconds(90))
            }
            func expectSuccess(_ output: Command.Output, _ what: String) {
                #expect(output.exit == ProcessExit(exited: true, status: 0), "\(what): \(output.exit)\n\(output.stdout)\n\(output.stderr)")
            }
            expectSuccess(try await run("alice", "\(a),\(b)", ["register", "alice"]), "alice registers through A")
            expectSuccess(try await run("bob", "\(b),\(a)", ["register", "bob"]), "bob registers through B")
            // Bob is offline; alice writes through node B.
            expectSuccess(try await run("alice", b, ["send", "bob", "sent through node b"]), "alice sends through B")
            // Bob, with the home he made on node B, logs in on node A.
            let received = try await run("bob", a, ["receive", "--wait", "2"])
            expectSuccess(received, "bob receives on A")
            #expect(received.stdout.contains("sent through node b"), "\(received.stdout)\n\(received.stderr)")
            expectSuccess(try await run("bob", a, ["accept", "alice"]), "bob accepts alice on A")
            // Node A goes away: both clients, given A first, go on through B.
            try await nodeA.stop(signal: SIGTERM)
            expectSuccess(try await run("alice", "\(a),\(b)", ["send", "bob", "after node a stopped"]), "alice sends with A down")
            let failedOver = try await run("bob", "\(a),\(b)", ["receive", "--wait", "2"])
            expectSuccess(failedOver, "bob receives with A down")
            #expect(failedOver.stdout.contains("after node a stopped"), "\(failedOver.stdout)\n\(failedOver.stderr)")
            let history = try await run("bob", "\(a),\(b)", ["history", "alice"])
            expectSuccess(history, "bob's history")
            for text in ["sent through node b", "after node a stopped"] {
                #expect(history.stdout.components(separatedBy: text).count == 2, "\"\(text)\" shown once in:\n\(history.stdout)")
            }
        }
    }
}
