import Accounts
import ClientCore
import Primitives
import ServerCore
import Testing
import WireProtocol

/// The login deadline: a connection without a logged-in account is closed after it.
@Suite("Login deadline", .shutsDownConnections, .timeLimit(.minutes(1)))
struct LoginDeadlineTests {
    /// Short for a test, long enough that registering (100 prekeys) fits in it on a loaded machine.
    static let deadline: Duration = .seconds(2)

    @Test("a connection that logs out is closed once the login deadline has passed again")
    func logoutRearmsTheDeadline() async throws {
        var configuration = ServerConfiguration()
        configuration.loginDeadline = Self.deadline
        let world = try TestWorld(configuration: configuration)
        let alice = try world.connect(try world.device("alice"))
        defer { Task { await alice.disconnect() } }
        try await alice.client.register(username: name("alice"), password: password())

        // Logged in, the connection outlives the deadline.
        try await Task.sleep(for: Self.deadline + .milliseconds(500))
        #expect(try await alice.wire.request(.ping) == .pong)

        #expect(try await alice.wire.request(.logout) == .ok)
        // Bounded wait for the close: pings keep going until one finds the connection gone.
        let giveUp = ContinuousClock.now + .seconds(10)
        var closed = false
        while !closed, ContinuousClock.now < giveUp {
            try await Task.sleep(for: .milliseconds(100))
            do {
                _ = try await alice.wire.request(.ping)
            } catch {
                closed = true
            }
        }
        #expect(closed, "a logged-out connection must not escape the login deadline")
    }

    @Test("a login still being checked when the deadline passes is answered, and the connection stays once it succeeds")
    func theDeadlineWaitsForALoginInProgress() async throws {
        let gate = MailboxGate()
        var configuration = ServerConfiguration()
        configuration.loginDeadline = Self.deadline
        let world = try TestWorld(configuration: configuration, wrapAccounts: { GatedAccountStore(inner: $0, gate: gate) })
        let device = try world.device("alice")
        let first = try world.connect(device)
        try await first.client.register(username: name("alice"), password: password())
        await first.disconnect()

        gate.close()
        // Whatever happens below, the hashing thread is never left waiting at the gate.
        defer { gate.open() }
        let second = try world.connect(device)
        let login = Task { try await second.wire.request(.login(username: name("alice"), password: password())) }
        // The login is on the hashing pool, reading the account record: held there.
        for _ in 0..<1_000 where gate.heldCommits == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(gate.heldCommits == 1)
        // Past the deadline while the password is still being checked: before, the deadline closed
        // the connection under it (a slow login on a loaded server lost its connection).
        try await Task.sleep(for: Self.deadline + .milliseconds(500))
        gate.open()
        #expect(try await login.value == .loggedIn(pending: 0))
        #expect(try await second.wire.request(.ping) == .pong)
    }
}

/// An account store whose record reads wait at a gate while it is closed: a login held inside
/// its password check.
struct GatedAccountStore: AccountStore {
    let inner: any AccountStore
    let gate: MailboxGate

    func create(_ record: AccountRecord) throws(StoreError) { try inner.create(record) }
    func find(_ username: Username) throws(StoreError) -> AccountRecord? {
        gate.pass()
        return try inner.find(username)
    }
    func username(withIdentityKey identityKey: Ed25519PublicKey) throws(StoreError) -> Username? { try inner.username(withIdentityKey: identityKey) }
    func updatePasswordHash(_ passwordHash: String, for username: Username) throws(StoreError) { try inner.updatePasswordHash(passwordHash, for: username) }
    func updateLoginThrottle(for username: Username, from expected: LoginThrottle, to new: LoginThrottle) throws(StoreError) -> Bool {
        try inner.updateLoginThrottle(for: username, from: expected, to: new)
    }
    func delete(_ username: Username) throws(StoreError) -> Bool { try inner.delete(username) }
}
