import Primitives
import SecureChannel
import TCPTransport
import Testing
import WireProtocol

/// Hostile and broken connections against the in-process server: each is closed (or answered) on
/// its own while an authenticated client on the same server keeps getting answers. Every step has
/// an explicit deadline; nothing asserts how fast anything is.
@Suite("Hostile connections", .timeLimit(.minutes(1)))
struct RobustnessTests {
    let environment: IntegrationEnvironment
    /// Short handshake bounds so the silent connections are dropped in seconds, not the defaults'.
    static let limits = ChannelLimits(handshakeTimeout: .seconds(4), unauthenticatedIdleTimeout: .seconds(2))

    init() throws {
        environment = try IntegrationEnvironment()
    }

    /// A connection that misbehaves, and the server must close.
    struct Misbehaviour: Sendable {
        let name: String
        let script: @Sendable (inout RawStream, IntegrationEnvironment) async throws -> Void
    }

    static let misbehaviours: [Misbehaviour] = [
        Misbehaviour(name: "an HTTP request instead of Noise") { stream, _ in
            try await stream.write(Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        },
        Misbehaviour(name: "a 5-byte first handshake message (an ephemeral key is 32)") { stream, _ in
            try await stream.writeNoiseMessage([1, 2, 3, 4, 5])
        },
        Misbehaviour(name: "random bytes in correctly sized handshake messages") { stream, environment in
            try await stream.writeNoiseMessage(environment.random.bytes(count: 32))
            let reply = try await stream.readNoiseMessage()
            #expect(reply.count == 96, "message 2 of XX is e, encrypted s and a tag")
            // Message 3 has the right size (encrypted s + tag) but is not a valid encryption.
            try await stream.writeNoiseMessage(environment.random.bytes(count: 64))
        },
        Misbehaviour(name: "a frame declaring 4 GiB after a valid handshake") { stream, environment in
            var noise = try await ManualNoiseSession.handshake(over: &stream, environment: environment)
            // First prove the hand-made channel is sound: a ping is answered.
            try await noise.send(frame: WireCodec.encode(.request(Request(id: 7, body: .ping))), over: stream)
            let answer = try WireCodec.decode(try await noise.receiveFrame(over: &stream))
            guard case .response(let response) = answer, response == Response(requestID: 7, body: .pong) else {
                Issue.record("the hand-made Noise session got \(answer) for a ping")
                return
            }
            try await noise.sendStreamBytes([0xFF, 0xFF, 0xFF, 0xFF], over: stream)
        },
        Misbehaviour(name: "a connection that sends nothing") { _, _ in },
        Misbehaviour(name: "half of a first handshake message, then silence") { stream, environment in
            try await stream.write([0, 32] + environment.random.bytes(count: 16))
        },
    ]

    @Test("each hostile connection is closed by the server while an authenticated client keeps working")
    func hostileConnectionsAffectOnlyThemselves() async throws {
        let alice = try environment.account("alice")
        let bob = try environment.account("bob")
        let environment = self.environment
        try await environment.withInProcessServer(channelLimits: Self.limits) { server async throws in
            try await environment.withSession(port: server.port, serverKey: server.serverKey) { aliceSession async throws in
                #expect(try await aliceSession.call(alice.register) == .loggedIn(pending: 0))
                try await environment.withSession(port: server.port, serverKey: server.serverKey) { bobSession async throws in
                    #expect(try await bobSession.call(bob.register) == .loggedIn(pending: 0))

                    // All hostile connections at once, each bounded; the clients keep pinging meanwhile.
                    let closed = Observed<String>()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for misbehaviour in Self.misbehaviours {
                            group.addTask {
                                let peer = try await RawPeer.connect(port: server.port)
                                _ = try await withDeadline(.seconds(15), "the server to close \(misbehaviour.name)") {
                                    try await peer.run { stream in try await misbehaviour.script(&stream, environment) }
                                }
                                closed.append(misbehaviour.name)
                            }
                        }
                        var round = 0
                        while closed.elements.count < Self.misbehaviours.count {
                            round += 1
                            try await Self.expectPong(aliceSession, "ping \(round) while hostile connections are open")
                            // Pace the pings: the next one goes after a close or a quarter second.
                            let seen = closed.elements.count
                            _ = try? await closed.wait("another close", within: .milliseconds(250)) { $0.count > seen }
                        }
                        try await group.waitForAll()
                    }
                    #expect(Set(closed.elements) == Set(Self.misbehaviours.map(\.name)))

                    // Afterwards: still answering, still delivering, and no connection slot leaked.
                    try await Self.expectPong(aliceSession, "ping after every hostile connection closed")
                    let id = try #require(try await acceptedID(aliceSession.call(bob.envelope(counterPayload(1)))))
                    #expect(try await bobSession.waitForDeliveries(1).map(\.id) == [id])
                    try await eventually("the server to count only the two clients' connections") {
                        server.transport.connectionCount == 2
                    }
                }
            }
        }
    }

    @Test("an undecodable frame on an authenticated channel is answered with malformed-request; the connection stays usable")
    func undecodableFrameIsAnsweredNotFatal() async throws {
        let environment = self.environment
        try await environment.withInProcessServer(channelLimits: Self.limits) { server async throws in
            try await environment.clientTransport().withConnection(host: "127.0.0.1", port: server.port, expectedServerKey: server.serverKey) { connection, inbound in
                var frames = inbound.makeAsyncIterator()
                // Version 1, a request, id 9, then an unknown request tag.
                try await connection.send([1, 1, 0, 0, 0, 9, 0xEE])
                let first = try WireCodec.decode(try #require(try await frames.next()))
                guard case .response(let response) = first, response.requestID == 9, errorCode(response.body) == .malformedRequest else {
                    Issue.record("expected malformed-request for request 9, got \(first)")
                    return
                }
                try await connection.send(WireCodec.encode(.request(Request(id: 10, body: .ping))))
                let second = try WireCodec.decode(try #require(try await frames.next()))
                guard case .response(let pong) = second else {
                    Issue.record("expected a pong, got \(second)")
                    return
                }
                #expect(pong == Response(requestID: 10, body: .pong))
            }
        }
    }

    @Test("the previous build's register (tag 1, no identity binding) is answered unsupported-version and stores nothing")
    func previousBuildsRegisterIsUnsupported() async throws {
        let environment = self.environment
        let account = try environment.account("oldclient")
        try await environment.withInProcessServer(channelLimits: Self.limits) { server async throws in
            try await environment.clientTransport().withConnection(host: "127.0.0.1", port: server.port, expectedServerKey: server.serverKey) { connection, inbound in
                var frames = inbound.makeAsyncIterator()
                // Today's register (tag 13) with the tag and the identity signature taken out is
                // exactly what the previous build sent.
                let current = WireCodec.encode(.request(Request(id: 4, body: account.register)))
                let keyEnd = 7 + (4 + 9) + (4 + 28) + 32
                let old = Array(current.prefix(6)) + [1] + Array(current[7..<keyEnd]) + Array(current[(keyEnd + 64)...])
                try await connection.send(old)
                let answer = try WireCodec.decode(try #require(try await frames.next()))
                guard case .response(let response) = answer, response.requestID == 4, errorCode(response.body) == .unsupportedVersion else {
                    Issue.record("expected unsupported-version for request 4, got \(answer)")
                    return
                }
                // Not registered: a current register of the same name still works.
                try await connection.send(WireCodec.encode(.request(Request(id: 5, body: account.register))))
                let registered = try WireCodec.decode(try #require(try await frames.next()))
                guard case .response(let second) = registered else {
                    Issue.record("expected a response, got \(registered)")
                    return
                }
                #expect(second == Response(requestID: 5, body: .loggedIn(pending: 0)))
            }
        }
    }

    private static func expectPong(_ session: WireSession, _ what: String) async throws {
        let answer = try await withDeadline(.seconds(5), what) { try await session.call(.ping) }
        #expect(answer == .pong, "\(what)")
    }
}
