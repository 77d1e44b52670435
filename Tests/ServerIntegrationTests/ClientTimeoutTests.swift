import ClientCore
import Primitives
import SecureChannel
import TCPTransport
import Testing
import WireProtocol

/// The client's request timeout over real TCP, against a server that completes the Noise
/// handshake and then never answers (a hung server, as opposed to a dead connection).
@Suite("Client request timeout", .timeLimit(.minutes(1)))
struct ClientTimeoutTests {
    /// Reads every frame and answers none, remembering what arrived.
    final class SilentHandler: FrameConnectionHandler {
        private let frames = LockedValue([[UInt8]]())
        var received: [[UInt8]] { frames.withLock { $0 } }

        func serve(_ connection: any FrameConnection, inbound: InboundFrames) async {
            do {
                for try await frame in inbound { frames.withLock { $0.append(frame) } }
            } catch {
                // The test closed the connection.
            }
        }
    }

    enum Outcome: Equatable, Sendable {
        case answered(Response.Body)
        case failed(ClientConnectionError)
        /// Nothing happened within the test's own deadline.
        case stillWaiting
    }

    @Test("a request the server never answers fails with timed-out after the request timeout, on a connection that stays open")
    func unansweredRequestTimesOut() async throws {
        let environment = try IntegrationEnvironment()
        let keys = try environment.keyPair()
        let server = try await NIOServerTransport.bind(
            host: "127.0.0.1", port: 0, localStatic: keys, crypto: environment.crypto, random: environment.random, logger: .quiet)
        let handler = SilentHandler()
        try await withThrowingTaskGroup(of: Void.self) { serving in
            serving.addTask {
                do { try await server.serve(handler) } catch where Task.isCancelled {}
            }
            defer { serving.cancelAll() }
            let outcome = try await environment.clientTransport().withConnection(
                host: "127.0.0.1", port: server.localPort, expectedServerKey: keys.publicKey
            ) { connection, inbound in
                let wire = WireClient(connection: connection, requestTimeout: .seconds(1))
                return try await withThrowingTaskGroup(of: Outcome.self, returning: Outcome.self) { group in
                    group.addTask {
                        await wire.run(inbound: inbound)
                        return .stillWaiting
                    }
                    group.addTask {
                        do throws(ClientConnectionError) {
                            return .answered(try await wire.request(.ping))
                        } catch {
                            return .failed(error)
                        }
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(10) * sanitizerSlowdown)
                        return .stillWaiting
                    }
                    let first = try await group.next() ?? .stillWaiting
                    guard first == .failed(.timedOut(seconds: 1)) else {
                        await wire.close()
                        group.cancelAll()
                        return first
                    }
                    // The connection stayed open: a second request still reaches the server.
                    group.addTask {
                        do throws(ClientConnectionError) {
                            return .answered(try await wire.request(.prekeyCount))
                        } catch {
                            return .failed(error)
                        }
                    }
                    let deadline = ContinuousClock.now + .seconds(10) * sanitizerSlowdown
                    while handler.received.count < 2, ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    // Closing the connection releases a request that is still stuck, so the group can end.
                    await wire.close()
                    group.cancelAll()
                    return first
                }
            }
            #expect(outcome == .failed(.timedOut(seconds: 1)))
            let requests = try handler.received.map { frame in
                guard case .request(let request) = try WireCodec.decode(frame) else { throw DecodingError.invalidValue(field: "frame", reason: "not a request") }
                return request.body
            }
            #expect(requests.count == 2, "the server received \(requests.count) requests")
            if requests.count == 2 {
                guard case .ping = requests[0], case .prekeyCount = requests[1] else {
                    Issue.record("the server received \(requests)")
                    return
                }
            }
        }
    }
}
