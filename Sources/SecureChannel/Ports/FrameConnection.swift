import Primitives

/// The application's view of one authenticated, encrypted connection: send frames, close, and know
/// who is on the other end.
///
/// Declared here, by the secure-channel core, so that Parley's server and client applications are
/// written against this port and not against a networking library. The adapter is
/// `TCPTransport` (SwiftNIO over TCP); a test can supply an in-memory one.
///
/// Guarantees: a value of this type exists only after a Noise XX handshake completed, so
/// ``remoteStaticKey`` is authenticated; frames are delivered to the peer whole, in order and
/// exactly once, or the connection closes.
public protocol FrameConnection: Sendable {
    /// A process-local id for logs.
    var id: ConnectionID { get }

    /// The peer's static X25519 public key, proved during the handshake: the server's identity as
    /// the client sees it, the client's static key as the server sees it.
    var remoteStaticKey: X25519PublicKey { get }

    /// The peer's network address as the transport saw it (for TCP, the IP address without the
    /// port, e.g. `203.0.113.9` or `2001:db8::1`), or `"unknown"`. Not authenticated: it keys
    /// rate limits and appears in logs, and is never used to decide who someone is.
    var remoteAddress: String { get }

    /// The Noise handshake hash, equal on both ends: binds application-level authentication to
    /// this very channel.
    var handshakeHash: [UInt8] { get }

    /// Sends one application frame (1 byte up to ``ChannelLimits/maxFrameBytes``).
    ///
    /// Suspends while the connection is not writable (more than
    /// ``ChannelLimits/outboundHighWaterMark`` bytes wait for the socket), so a slow reader slows
    /// the sender instead of growing its buffers. Returning means the frame was queued, not that the
    /// peer received it.
    /// - Throws: ``ConnectionError/emptyFrame``, ``ConnectionError/frameTooLarge(length:limit:)``,
    ///   ``ConnectionError/closed`` when the connection is already closed.
    func send(_ frame: [UInt8]) async throws(ConnectionError)

    /// Sends `frames` in order, exactly as calling ``send(_:)`` for each in turn would (same
    /// checks, same back-pressure, returning once the last is queued), but lets the transport
    /// write them together: the server answers a batch's sends and pushes a batch's deliveries
    /// this way, one flush instead of one per frame. Frames before a failing one may have been
    /// sent. The default calls ``send(_:)`` for each.
    func send(contentsOf frames: [[UInt8]]) async throws(ConnectionError)

    /// Closes the connection. Idempotent; frames already queued may be dropped.
    func close() async
}

extension FrameConnection {
    public func send(contentsOf frames: [[UInt8]]) async throws(ConnectionError) {
        for frame in frames { try await send(frame) }
    }
}
