import ClientCore
import Primitives
import SystemClock
import Testing
import WireProtocol

/// Accounts over real TCP: registration, login, wrong passwords, throttling and the one-session
/// rule, against the in-process server (SQLite in a temporary directory, NIO on 127.0.0.1).
@Suite("Accounts over TCP", .timeLimit(.minutes(1)))
struct AccountFlowTests {
    let environment: IntegrationEnvironment

    init() throws {
        environment = try IntegrationEnvironment()
    }

    @Test("register logs in; the name is then taken; logout, login, wrong and unknown credentials")
    func registerAndLogin() async throws {
        let alice = try environment.account("alice")
        try await environment.withInProcessServer { server async throws in
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { session async throws in
                #expect(try await session.call(alice.register) == .loggedIn(pending: 0))
                #expect(try await session.call(.prekeyCount) == .prekeyCount(UInt32(alice.oneTimePrekeys.count)))
                #expect(try await errorCode(session.call(alice.login)) == .alreadyAuthenticated)
                #expect(try await session.call(.logout) == .ok)
                #expect(try await errorCode(session.call(.prekeyCount)) == .notAuthenticated)
                #expect(try await session.call(alice.login) == .loggedIn(pending: 0))
                #expect(try await session.call(.logout) == .ok)
            }
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { session async throws in
                let impostor = try environment.account("alice")
                #expect(try await errorCode(session.call(impostor.register)) == .usernameTaken)
                #expect(try await errorCode(session.call(alice.login(password: "not the password"))) == .invalidCredentials)
                // An unknown user gets the very same answer: no oracle for which names exist.
                let nobody = try environment.account("nobody")
                #expect(try await errorCode(session.call(nobody.login)) == .invalidCredentials)
                #expect(try await errorCode(session.call(.prekeyCount)) == .notAuthenticated)
                #expect(try await session.call(alice.login) == .loggedIn(pending: 0))
            }
        }
    }

    @Test("five wrong passwords lock the account: the sixth attempt is throttled, even with the right password, until the lock ends")
    func throttling() async throws {
        let dave = try environment.account("dave")
        // The server's clock is stopped and moved by hand: with the wall clock, "within the lock"
        // depended on the machine's speed (under the sanitizers the 1 s lock had ended before the
        // sixth attempt).
        let clock = SteppedClock(SystemWallClock().now())
        try await environment.withInProcessServer(clock: clock) { server async throws in
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { session async throws in
                #expect(try await session.call(dave.register) == .loggedIn(pending: 0))
                #expect(try await session.call(.logout) == .ok)
                for attempt in 1...5 {
                    let answer = try await session.call(dave.login(password: "wrong password \(attempt)"))
                    #expect(errorCode(answer) == .invalidCredentials, "attempt \(attempt): \(answer)")
                }
                // The fifth failure locked the account for 1 s; no server time passes until we say.
                let sixth = try await session.call(dave.login(password: "wrong password 6"))
                #expect(errorCode(sixth) == .throttled, "sixth attempt: \(sixth)")
                let rightButLocked = try await session.call(dave.login)
                #expect(errorCode(rightButLocked) == .throttled, "the lock refuses without looking at the password: \(rightButLocked)")

                // Attempts during the lock are not counted, so the lock ends after its second.
                clock.advance(by: .milliseconds(900))
                #expect(errorCode(try await session.call(dave.login)) == .throttled, "still inside the lock's second")
                clock.advance(by: .milliseconds(200))
                #expect(try await session.call(dave.login) == .loggedIn(pending: 0))
            }
        }
    }

    @Test("a second login to the same account wins: the first connection is told signed-in-elsewhere and closed")
    func duplicateLogin() async throws {
        let carol = try environment.account("carol")
        try await environment.withInProcessServer { server async throws in
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { first async throws in
                #expect(try await first.call(carol.register) == .loggedIn(pending: 0))
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { second async throws in
                    #expect(try await second.call(carol.login) == .loggedIn(pending: 0))
                    try await first.pushes.wait("signed-in-elsewhere on the first connection") { $0.contains(.signedInElsewhere) }
                    try await first.pushes.waitForEnd("the first connection to be closed by the server")
                    #expect(first.pushes.elements == [.signedInElsewhere])
                    let error = await #expect(throws: ClientConnectionError.self) { try await first.call(.ping) }
                    #expect(error.map(isDisconnected) == true, "\(String(describing: error))")
                    // The second session is the account's session now.
                    #expect(try await second.call(.prekeyCount) == .prekeyCount(UInt32(carol.oneTimePrekeys.count)))
                    #expect(try await second.call(.ping) == .pong)
                    #expect(second.pushes.elements.isEmpty)
                }
            }
        }
    }
}

/// A server clock that stands still until the test moves it.
final class SteppedClock: Clock {
    private let current: LockedValue<Timestamp>
    init(_ start: Timestamp) { current = LockedValue(start) }
    func now() -> Timestamp { current.withLock { $0 } }
    func advance(by duration: Duration) { current.withLock { $0 = $0.adding(duration) } }
}
