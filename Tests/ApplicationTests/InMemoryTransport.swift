import Primitives
import SecureChannel
import Synchronization

/// A pair of connected in-memory ``FrameConnection``s: the server application and the client
/// application talk through the same ports they use over TCP, minus the network.
final class InMemoryConnection: FrameConnection {
    let id: ConnectionID
    let remoteStaticKey: X25519PublicKey
    let handshakeHash: [UInt8] = [UInt8](repeating: 0, count: 64)
    let remoteAddress: String
    private let outbound: AsyncStream<[UInt8]>.Continuation
    private let closeBoth: @Sendable () -> Void

    init(id: UInt64, remoteStaticKey: X25519PublicKey, remoteAddress: String = "192.0.2.1", outbound: AsyncStream<[UInt8]>.Continuation, closeBoth: @escaping @Sendable () -> Void) {
        self.id = ConnectionID(rawValue: id)
        self.remoteAddress = remoteAddress
        self.remoteStaticKey = remoteStaticKey
        self.outbound = outbound
        self.closeBoth = closeBoth
    }

    func send(_ frame: [UInt8]) async throws(ConnectionError) {
        guard !frame.isEmpty else { throw .emptyFrame }
        if case .terminated = outbound.yield(frame) { throw .closed }
    }

    func close() async { closeBoth() }

    /// Two ends: what the client holds and what the server holds.
    static func pair(id: UInt64, serverKey: X25519PublicKey, clientKey: X25519PublicKey, clientAddress: String = "192.0.2.1") -> (client: (InMemoryConnection, InboundFrames), server: (InMemoryConnection, InboundFrames)) {
        let (toServer, toServerContinuation) = AsyncStream<[UInt8]>.makeStream()
        let (toClient, toClientContinuation) = AsyncStream<[UInt8]>.makeStream()
        let close: @Sendable () -> Void = {
            toServerContinuation.finish()
            toClientContinuation.finish()
        }
        let client = InMemoryConnection(id: id, remoteStaticKey: serverKey, outbound: toServerContinuation, closeBoth: close)
        let server = InMemoryConnection(id: id, remoteStaticKey: clientKey, remoteAddress: clientAddress, outbound: toClientContinuation, closeBoth: close)
        let translate: @Sendable (any Error) -> ConnectionError = { _ in .closed }
        return ((client, InboundFrames(toClient, translateError: translate)), (server, InboundFrames(toServer, translateError: translate)))
    }
}
