/// Why a secure connection could not be opened, or stopped working.
///
/// Thrown by the ``FrameConnection`` port and by transports (`NIOServerTransport`,
/// `NIOClientTransport`), which translate their networking library's failures into these cases so
/// that no adapter type reaches the application. No case carries secret bytes; keys appear only as
/// public hex.
public enum ConnectionError: Error, Equatable, Sendable {
    /// The TCP connection could not be established; `reason` is the system's explanation.
    case connectFailed(host: String, port: Int, reason: String)
    /// The Noise handshake failed (bad message, wrong prologue, tampering, small-order key).
    case handshakeFailed(NoiseError)
    /// The handshake did not finish within ``ChannelLimits/handshakeTimeout``, or the peer was
    /// silent for ``ChannelLimits/unauthenticatedIdleTimeout`` before it finished.
    case handshakeTimedOut
    /// The server proved a static key other than the one the client expected. Both keys are
    /// 64-character lowercase hex. The client aborts before sending its own static key.
    case serverKeyMismatch(expected: String, received: String)
    /// A frame to send is larger than ``ChannelLimits/maxFrameBytes``, or the peer declared one.
    case frameTooLarge(length: Int, limit: Int)
    /// An application tried to send a zero-length frame (reserved for keep-alive pings).
    case emptyFrame
    /// The peer sent bytes that are not a valid Noise transport message or frame stream; the
    /// connection was closed. `reason` is for local logs.
    case protocolViolation(reason: String)
    /// Nothing, not even a keep-alive ping, arrived within ``ChannelLimits/deadPeerTimeout``.
    case peerTimedOut
    /// The connection is closed (by either side, or by shutdown); nothing more can be sent.
    case closed
}
