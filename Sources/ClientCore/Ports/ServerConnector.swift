import Primitives
import SecureChannel

/// Opens a secure connection to a Parley server. The adapter is the NIO client transport.
///
/// The connection lives for the duration of `body` and is closed when it returns, so it cannot
/// leak. When `expectedServerKey` is set, a server proving another static key is refused before
/// the client reveals anything.
public protocol ServerConnector: Sendable {
    func withConnection<Result: Sendable>(
        host: String, port: Int, expectedServerKey: X25519PublicKey?,
        _ body: @Sendable (any FrameConnection, InboundFrames) async throws -> Result
    ) async throws -> Result
}
