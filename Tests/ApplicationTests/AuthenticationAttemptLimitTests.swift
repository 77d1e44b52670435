import Primitives
import SecureChannel
import ServerCore
import Testing
import WireProtocol

/// Logins and registrations are limited per source address, whatever names they try.
@Suite("Authentication attempts per address", .shutsDownConnections, .timeLimit(.minutes(1)))
struct AuthenticationAttemptLimitTests {
    @Test("past its burst an address is throttled for logins and registrations alike; other addresses are not")
    func perAddressLimit() async throws {
        var configuration = ServerConfiguration()
        configuration.authenticationAttemptsPerAddress = AddressRateLimit(burst: 3, refillInterval: .seconds(60))
        let world = try TestWorld(configuration: configuration)
        let wires = WireConnections(world: world, requestTimeout: .seconds(20))
        defer { wires.closeAll() }
        let dave = try Registration(name: "dave", world: world)
        let setup = try wires.connect(from: SourceAddress("192.0.2.9"))
        #expect(try await setup.request(dave.request) == .loggedIn(pending: 0))

        // Two connections from one address share its budget of three attempts.
        let first = try wires.connect(from: SourceAddress("192.0.2.1"))
        let second = try wires.connect(from: SourceAddress("192.0.2.1"))
        for (index, wire) in [first, second, first].enumerated() {
            let answer = try await wire.request(.login(username: name("nobody\(index)"), password: password("wrong")))
            #expect(Self.code(answer) == .invalidCredentials, "attempt \(index): \(answer)")
        }
        #expect(Self.code(try await second.request(dave.login)) == .throttled, "even the right password, from this address")
        #expect(Self.code(try await first.request(try Registration(name: "erin", world: world).request)) == .throttled)

        // Another address is untouched.
        let elsewhere = try wires.connect(from: SourceAddress("192.0.2.2"))
        #expect(try await elsewhere.request(dave.login) == .loggedIn(pending: 0))
    }

    static func code(_ answer: Response.Body) -> WireError.Code? {
        if case .error(let error) = answer { return error.code }
        return nil
    }
}
