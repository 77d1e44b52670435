import Primitives
import ServerCore
import Testing
import WireProtocol

/// Store-and-forward over real TCP against the in-process server: offline delivery and order,
/// acknowledgement, queue caps, blocks and account deletion, checked on the wire and in the
/// SQLite file itself.
@Suite("Mailbox over TCP", .timeLimit(.minutes(1)))
struct MailboxFlowTests {
    let environment: IntegrationEnvironment

    init() throws {
        environment = try IntegrationEnvironment()
    }

    @Test("50 envelopes to an offline user arrive as pushes at login, in sending order; acknowledged ones leave the database")
    func offlineDeliveryInOrderThenAcknowledged() async throws {
        let alice = try environment.account("alice")
        let bob = try environment.account("bob")
        try await environment.withInProcessServer { server async throws in
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { session async throws in
                #expect(try await session.call(bob.register) == .loggedIn(pending: 0))
            }
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { aliceSession async throws in
                #expect(try await aliceSession.call(alice.register) == .loggedIn(pending: 0))
                var acceptedIDs: [UInt64] = []
                for index in 0..<50 {
                    let answer = try await aliceSession.call(bob.envelope(counterPayload(UInt64(index))))
                    guard let id = acceptedID(answer) else {
                        Issue.record("envelope \(index) was not accepted: \(answer)")
                        return
                    }
                    acceptedIDs.append(id)
                }
                #expect(acceptedIDs == acceptedIDs.sorted() && Set(acceptedIDs).count == 50)
                #expect(try DatabaseInspector(path: server.databasePath).count("SELECT count(*) FROM mailbox WHERE recipient = ?", ["bob"]) == 50)

                try await environment.withSession(port: server.port, serverKey: server.serverKey) { bobSession async throws in
                    #expect(try await bobSession.call(bob.login) == .loggedIn(pending: 50))
                    let deliveries = try await bobSession.waitForDeliveries(50)
                    #expect(deliveries.count == 50)
                    #expect(deliveries.map(\.id) == acceptedIDs)
                    #expect(deliveries.map { counter(in: $0.envelope) } == (0..<50).map { UInt64($0) })
                    #expect(deliveries.allSatisfy { $0.sender == alice.username })

                    #expect(try await bobSession.call(.acknowledge(ids: deliveries.map(\.id))) == .ok)
                    #expect(try DatabaseInspector(path: server.databasePath).count("SELECT count(*) FROM mailbox") == 0)

                    // Online now: the next envelope is pushed at once, and nothing old comes again.
                    let live = try await aliceSession.call(bob.envelope(counterPayload(50)))
                    let liveID = try #require(acceptedID(live))
                    let all = try await bobSession.waitForDeliveries(51)
                    #expect(all.last?.id == liveID)
                    #expect(all.last.flatMap { counter(in: $0.envelope) } == 50)
                    #expect(try await bobSession.call(.acknowledge(ids: [liveID])) == .ok)
                }
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { bobAgain async throws in
                    #expect(try await bobAgain.call(bob.login) == .loggedIn(pending: 0))
                    #expect(try await bobAgain.call(.ping) == .pong)
                    #expect(bobAgain.deliveries.isEmpty)
                }
            }
        }
    }

    @Test("a full mailbox refuses with mailbox-full (by count and by bytes) while other recipients still receive")
    func queueCap() async throws {
        let limits = MailboxLimits(maxEnvelopes: 3, maxBytes: 1000, maxPayloadBytes: 600)
        let (alice, bob, carol, dave) = (try environment.account("alice"), try environment.account("bob"), try environment.account("carol"), try environment.account("dave"))
        try await environment.withInProcessServer(mailboxLimits: limits) { server async throws in
            for account in [bob, carol, dave] {
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { session async throws in
                    #expect(try await session.call(account.register) == .loggedIn(pending: 0))
                }
            }
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { session async throws in
                #expect(try await session.call(alice.register) == .loggedIn(pending: 0))
                for index in 0..<3 {
                    #expect(try await acceptedID(session.call(bob.envelope(counterPayload(UInt64(index))))) != nil)
                }
                #expect(try await errorCode(session.call(bob.envelope(counterPayload(3)))) == .mailboxFull)
                // The byte cap: 500 waiting + 501 more would pass 1000.
                #expect(try await acceptedID(session.call(carol.envelope([UInt8](repeating: 1, count: 500)))) != nil)
                #expect(try await errorCode(session.call(carol.envelope([UInt8](repeating: 2, count: 501)))) == .mailboxFull)
                // A payload over the per-envelope cap is too large, whoever it is for.
                #expect(try await errorCode(session.call(dave.envelope([UInt8](repeating: 3, count: 601)))) == .tooLarge)
                // Other recipients are unaffected.
                #expect(try await acceptedID(session.call(dave.envelope(counterPayload(7)))) != nil)
                #expect(try await acceptedID(session.call(carol.envelope([UInt8](repeating: 4, count: 499)))) != nil)

                let inspector = try DatabaseInspector(path: server.databasePath)
                #expect(try inspector.count("SELECT count(*) FROM mailbox WHERE recipient = ?", ["bob"]) == 3)
                #expect(try inspector.count("SELECT count(*) FROM mailbox WHERE recipient = ?", ["carol"]) == 2)
                #expect(try inspector.count("SELECT count(*) FROM mailbox WHERE recipient = ?", ["dave"]) == 1)

                // Once Bob acknowledges, his mailbox has room again.
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { bobSession async throws in
                    #expect(try await bobSession.call(bob.login) == .loggedIn(pending: 3))
                    let deliveries = try await bobSession.waitForDeliveries(3)
                    #expect(try await bobSession.call(.acknowledge(ids: deliveries.map(\.id))) == .ok)
                }
                #expect(try await acceptedID(session.call(bob.envelope(counterPayload(3)))) != nil)
            }
        }
    }

    @Test("a blocked sender's envelopes are refused and never stored; others still get through; unblocking restores delivery")
    func blockedSenderIsRefused() async throws {
        let (alice, bob, mallory) = (try environment.account("alice"), try environment.account("bob"), try environment.account("mallory"))
        try await environment.withInProcessServer { server async throws in
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { bobSession async throws in
                #expect(try await bobSession.call(bob.register) == .loggedIn(pending: 0))
                #expect(try await bobSession.call(.block(username: mallory.username)) == .ok)
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { mallorySession async throws in
                    #expect(try await mallorySession.call(mallory.register) == .loggedIn(pending: 0))
                    #expect(try await errorCode(mallorySession.call(bob.envelope(counterPayload(1)))) == .refused)
                    // One-way: Bob may still write to Mallory.
                    #expect(try await acceptedID(bobSession.call(mallory.envelope(counterPayload(2)))) != nil)

                    try await environment.withSession(port: server.port, serverKey: server.serverKey) { aliceSession async throws in
                        #expect(try await aliceSession.call(alice.register) == .loggedIn(pending: 0))
                        let fromAlice = try #require(try await acceptedID(aliceSession.call(bob.envelope(counterPayload(3)))))
                        let pushed = try await bobSession.waitForDeliveries(1)
                        #expect(pushed.map(\.id) == [fromAlice])
                    }
                    let inspector = try DatabaseInspector(path: server.databasePath)
                    #expect(try inspector.count("SELECT count(*) FROM mailbox WHERE recipient = ? AND sender = ?", ["bob", "mallory"]) == 0)

                    #expect(try await bobSession.call(.unblock(username: mallory.username)) == .ok)
                    let afterUnblock = try #require(try await acceptedID(mallorySession.call(bob.envelope(counterPayload(4)))))
                    let all = try await bobSession.waitForDeliveries(2)
                    #expect(all.map(\.sender) == [alice.username, mallory.username])
                    #expect(all.last?.id == afterUnblock)
                }
            }
        }
    }

    @Test("deleting an account removes it, its prekeys, its queued envelopes and every block; the name can be registered again")
    func deleteAccount() async throws {
        let (alice, bob, carol) = (try environment.account("alice"), try environment.account("bob"), try environment.account("carol"))
        try await environment.withInProcessServer { server async throws in
            let path = server.databasePath
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { aliceSession async throws in
                #expect(try await aliceSession.call(alice.register) == .loggedIn(pending: 0))
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { carolSession async throws in
                    #expect(try await carolSession.call(carol.register) == .loggedIn(pending: 0))
                    try await environment.withSession(port: server.port, serverKey: server.serverKey) { bobSession async throws in
                        #expect(try await bobSession.call(bob.register) == .loggedIn(pending: 0))
                        #expect(try await bobSession.call(.block(username: carol.username)) == .ok)
                        #expect(try await carolSession.call(.block(username: bob.username)) == .ok)
                        // Two envelopes queued for Bob (pushed, never acknowledged), one from Bob to Alice.
                        for index in 0..<2 {
                            #expect(try await acceptedID(aliceSession.call(bob.envelope(counterPayload(UInt64(index))))) != nil)
                        }
                        try await bobSession.waitForDeliveries(2)
                        #expect(try await acceptedID(bobSession.call(alice.envelope(counterPayload(9)))) != nil)

                        let before = try DatabaseInspector(path: path)
                        #expect(try Self.rowsAbout("bob", in: before) == Footprint(accounts: 1, signedPrekeys: 1, oneTimePrekeys: 5, queued: 2, blocks: 2))

                        #expect(try await errorCode(bobSession.call(.deleteAccount(password: SecretBytes(copying: Array("wrong password".utf8))))) == .invalidCredentials)
                        #expect(try Self.rowsAbout("bob", in: before).accounts == 1)
                        #expect(try await bobSession.call(bob.deleteAccount) == .ok)
                        #expect(try await errorCode(bobSession.call(.prekeyCount)) == .notAuthenticated)

                        let after = try DatabaseInspector(path: path)
                        #expect(try Self.rowsAbout("bob", in: after) == Footprint(accounts: 0, signedPrekeys: 0, oneTimePrekeys: 0, queued: 0, blocks: 0))
                        // What Bob sent belongs to its recipient and stays.
                        #expect(try after.count("SELECT count(*) FROM mailbox WHERE recipient = ? AND sender = ?", ["alice", "bob"]) == 1)
                        #expect(try await errorCode(aliceSession.call(bob.envelope(counterPayload(5)))) == .unknownUser)

                        // The name is free again; the new account starts with nothing queued and no blocks.
                        let newBob = try environment.account("bob")
                        #expect(try await bobSession.call(newBob.register) == .loggedIn(pending: 0))
                        #expect(try await acceptedID(bobSession.call(carol.envelope(counterPayload(6)))) != nil)
                        // A sender still naming the old identity is told it changed.
                        #expect(try await errorCode(aliceSession.call(bob.envelope(counterPayload(7)))) == .identityChanged)
                        #expect(try await acceptedID(aliceSession.call(newBob.envelope(counterPayload(8)))) != nil)
                    }
                }
            }
        }
    }

    struct Footprint: Equatable {
        var accounts: Int
        var signedPrekeys: Int
        var oneTimePrekeys: Int
        var queued: Int
        var blocks: Int
    }

    /// Every row in the server database that concerns `user`.
    static func rowsAbout(_ user: String, in inspector: DatabaseInspector) throws -> Footprint {
        Footprint(
            accounts: try inspector.count("SELECT count(*) FROM accounts WHERE username = ?", [user]),
            signedPrekeys: try inspector.count("SELECT count(*) FROM signed_prekeys WHERE username = ?", [user]),
            oneTimePrekeys: try inspector.count("SELECT count(*) FROM one_time_prekeys WHERE username = ?", [user]),
            queued: try inspector.count("SELECT count(*) FROM mailbox WHERE recipient = ?", [user]),
            blocks: try inspector.count("SELECT count(*) FROM blocks WHERE blocker = ?1 OR blocked = ?1", [user]))
    }
}
