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
}
