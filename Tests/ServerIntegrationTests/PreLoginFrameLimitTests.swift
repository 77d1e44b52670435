import ClientCore
import Prekeys
import Primitives
import SecureChannel
import Testing
import WireProtocol

/// Before an account is logged in on a connection, the server accepts only small frames: a
/// connection that has not logged in cannot make it hold megabytes.
@Suite("Pre-login frame limit", .timeLimit(.minutes(1)))
struct PreLoginFrameLimitTests {
    let environment: IntegrationEnvironment

    init() throws {
        environment = try IntegrationEnvironment()
    }

    @Test("a connection that has not logged in is closed as soon as it declares a frame over the pre-login limit")
    func largeFrameBeforeLoginCloses() async throws {
        let environment = self.environment
        try await environment.withInProcessServer { server async throws in
            let peer = try await RawPeer.connect(port: server.port)
            _ = try await withDeadline(.seconds(10), "the server to close a connection declaring 64 KiB before login") {
                try await peer.run { stream in
                    var noise = try await ManualNoiseSession.handshake(over: &stream, environment: environment)
                    let declared = UInt32(ChannelLimits.preLoginMaxFrameBytes * 4)
                    try await noise.sendStreamBytes(
                        [UInt8(declared >> 24), UInt8(declared >> 16 & 0xFF), UInt8(declared >> 8 & 0xFF), UInt8(declared & 0xFF)] + [1, 1],
                        over: stream)
                }
            }
        }
    }

    @Test("the largest registration fits before login; large frames are accepted while logged in and refused again after logout")
    func limitLiftsAtLoginAndReturnsAtLogout() async throws {
        let alice = try environment.account("alice")
        let environment = self.environment
        try await environment.withInProcessServer { server async throws in
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { session async throws in
                // 200 one-time prekeys (the most a registration may carry) and a long password.
                let prekeys = try (1...200).map { OneTimePrekey(id: UInt32($0), publicKey: try environment.keyPair().publicKey) }
                let longPassword = SecretBytes(copying: [UInt8](repeating: 0x61, count: 1000))
                let register = Request.Body.register(
                    username: alice.username, password: longPassword, identityKey: alice.identityKey, identitySignature: alice.identitySignature,
                    signedPrekey: alice.signedPrekey, oneTimePrekeys: prekeys)
                #expect(WireCodec.encode(.request(Request(id: 1, body: register))).count <= ChannelLimits.preLoginMaxFrameBytes)
                #expect(try await session.call(register) == .loggedIn(pending: 0))

                let large = [UInt8](repeating: 7, count: 256 << 10)
                #expect(try await acceptedID(session.call(alice.envelope(large))) != nil)
                #expect(try await session.call(.logout) == .ok)
                let error = await #expect(throws: ClientConnectionError.self) { try await session.call(alice.envelope(large)) }
                #expect(error.map(isDisconnected) == true, "\(String(describing: error))")
            }
        }
    }
}
