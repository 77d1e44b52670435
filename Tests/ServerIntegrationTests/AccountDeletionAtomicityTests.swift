import CSQLite
import Primitives
import Testing
import WireProtocol

/// Account deletion is one transaction: a failure part way through leaves the account whole.
@Suite("Account deletion is atomic", .timeLimit(.minutes(1)))
struct AccountDeletionAtomicityTests {
    let environment: IntegrationEnvironment

    init() throws {
        environment = try IntegrationEnvironment()
    }

    @Test("a deletion that fails part way deletes nothing: the account still logs in with its prekeys, mail and blocks")
    func failedDeletionLeavesNothingHalfDeleted() async throws {
        let (alice, bob, carol) = (try environment.account("alice"), try environment.account("bob"), try environment.account("carol"))
        try await environment.withInProcessServer { server async throws in
            let path = server.databasePath
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { aliceSession async throws in
                #expect(try await aliceSession.call(alice.register) == .loggedIn(pending: 0))
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { bobSession async throws in
                    #expect(try await bobSession.call(bob.register) == .loggedIn(pending: 0))
                    #expect(try await bobSession.call(.block(username: carol.username)) == .ok)
                    #expect(try await acceptedID(aliceSession.call(bob.envelope(counterPayload(1)))) != nil)
                    let whole = MailboxFlowTests.Footprint(accounts: 1, signedPrekeys: 1, oneTimePrekeys: 5, queued: 1, blocks: 1)
                    #expect(try MailboxFlowTests.rowsAbout("bob", in: DatabaseInspector(path: path)) == whole)

                    // Another program makes the last part of a deletion fail (as a full disk or an
                    // I/O error would): removing blocks aborts.
                    try Self.execute(
                        "CREATE TRIGGER fail_block_removal BEFORE DELETE ON blocks BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                        onDatabaseAt: path)
                    #expect(try await errorCode(bobSession.call(bob.deleteAccount)) == .internalError)
                    #expect(try MailboxFlowTests.rowsAbout("bob", in: DatabaseInspector(path: path)) == whole, "nothing of bob may be deleted")

                    // Still a working account: the session, a fresh login, the mail and the prekeys.
                    #expect(try await bobSession.call(.prekeyCount) == .prekeyCount(5))
                    #expect(try await bobSession.call(.logout) == .ok)
                    #expect(try await bobSession.call(bob.login) == .loggedIn(pending: 1))

                    // Once the failure is gone, the retried deletion removes everything.
                    try Self.execute("DROP TRIGGER fail_block_removal", onDatabaseAt: path)
                    #expect(try await bobSession.call(bob.deleteAccount) == .ok)
                    #expect(
                        try MailboxFlowTests.rowsAbout("bob", in: DatabaseInspector(path: path))
                            == MailboxFlowTests.Footprint(accounts: 0, signedPrekeys: 0, oneTimePrekeys: 0, queued: 0, blocks: 0))
                }
            }
        }
    }

    /// Writes to the server's database behind its back, as another program would.
    static func execute(_ sql: String, onDatabaseAt path: String) throws {
        var handle: OpaquePointer?
        defer { sqlite3_close_v2(handle) }
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else {
            throw DatabaseInspector.Failure(description: "cannot open \(path)")
        }
        sqlite3_busy_timeout(handle, 5_000)
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
            throw DatabaseInspector.Failure(description: String(cString: sqlite3_errmsg(handle)))
        }
    }
}
