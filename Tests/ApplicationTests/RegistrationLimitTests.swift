import ClientCore
import ServerCore
import Primitives
import Testing
import WireProtocol

/// Registration is limited (issue 10, finding 11: it was unlimited): the server takes a burst of
/// registrations, then a steady trickle, whoever sends them.
@Suite("Registration limit", .shutsDownConnections, .timeLimit(.minutes(3)))
struct RegistrationLimitTests {
    @Test("past a burst of 100 registrations the server answers throttled")
    func registrationsAreRateLimited() async throws {
        let world = try TestWorld(serverClock: frozenClock())
        var throttled = 0
        for index in 0..<110 {
            let user: Username = name("user\(index)")
            let device: Connected = try world.connect(try world.device(user.value))
            let refused: Bool = await Self.isThrottled(device.client, user)
            if refused { throttled += 1 }
            await device.disconnect()
        }
        #expect(throttled >= 5, "registrations past the burst are refused")
        #expect(throttled <= 10, "and the burst itself goes through")
    }

    private static func isThrottled(_ client: ParleyClient, _ user: Username) async -> Bool {
        do {
            try await client.register(username: user, password: password())
            return false
        } catch {
            guard case .refused(let wireError) = error else { return false }
            return wireError.code == .throttled
        }
    }
}
