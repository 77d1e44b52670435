/// Every limit of the secure channel and its transports, in one place.
///
/// The static constants are properties of the wire format; the instance properties are policy,
/// configurable per server or client (tests shrink the timeouts). The defaults are what Parley's
/// server and client use.
public struct ChannelLimits: Sendable, Equatable {
    /// The largest Noise message, handshake or transport (Noise spec section 3): 65535 bytes, which
    /// is also why the TCP framing of Noise messages is a 16-bit length.
    public static let maxNoiseMessageBytes = NoiseProtocol.maxMessageLength

    /// The largest plaintext one Noise transport message carries: 65535 - 16 bytes of tag.
    public static let maxChunkPlaintextBytes = NoiseProtocol.maxMessageLength - NoiseProtocol.tagLength

    /// The length prefix in front of each application frame in the decrypted stream: u32 big-endian.
    public static let frameLengthPrefixBytes = 4

    /// The largest application frame by default: 16 MiB. A peer declaring more is disconnected
    /// before anything of the frame is buffered.
    public static let maxFrameBytes = 16 << 20

    /// The largest application frame a server accepts before an account is logged in on the
    /// connection: 16 KiB. The largest registration (a 32-character name, a 1024-byte password,
    /// the keys and 200 one-time prekeys) is about 8.4 KiB; a connection that has not logged in
    /// has no business sending more, and must not make the server hold megabytes.
    public static let preLoginMaxFrameBytes = 16 << 10

    /// The largest application frame accepted or sent on this channel (at most `UInt32.max`).
    public var maxFrameBytes: Int

    /// The largest application frame a server-side connection accepts until the application lifts
    /// the limit (``FrameConnection/allowLargeInboundFrames(_:)``, at login). Default
    /// ``preLoginMaxFrameBytes``; never more than ``maxFrameBytes``.
    public var preLoginMaxFrameBytes: Int

    /// How long a connection may take from TCP accept (or connect) to a finished handshake before
    /// it is closed. Default 10 seconds.
    public var handshakeTimeout: Duration

    /// How long an unauthenticated connection may stay silent (no bytes at all) before it is
    /// closed, so a connection that never speaks does not hold a slot for the whole handshake
    /// timeout. Default 5 seconds.
    public var unauthenticatedIdleTimeout: Duration

    /// How often an authenticated side sends a keep-alive ping when it has sent nothing else.
    /// Default 30 seconds.
    public var keepAliveInterval: Duration

    /// How long an authenticated connection may go without receiving anything (not even a ping)
    /// before the peer is considered dead and the connection is closed. Default 90 seconds, three
    /// keep-alive intervals.
    public var deadPeerTimeout: Duration

    /// How many connections, authenticated or not, a server holds at once; further connections are
    /// closed as soon as they are accepted. Default 20 000 (`parley-server --max-connections`).
    public var maxConnections: Int

    /// How many connections one source address (an IPv4 address, an IPv6 /64; see
    /// ``SourceAddress``) may hold at once on a server; further ones from it are closed on accept.
    /// Default 32.
    public var maxConnectionsPerAddress: Int

    /// Inbound bytes a server holds for all its connections together: frames being reassembled and
    /// frames decrypted but not yet taken by the application. A connection whose next chunk would
    /// exceed it is closed, so no number of slow or silent senders can exhaust memory. Default
    /// 256 MiB.
    public var maxBufferedInboundBytes: Int

    /// Bytes queued for the socket above which a connection stops being writable and `send`
    /// suspends (a slow reader cannot make the sender buffer without bound). Default 64 KiB.
    public var outboundHighWaterMark: Int

    /// Bytes queued for the socket below which a connection becomes writable again. Default 32 KiB.
    public var outboundLowWaterMark: Int

    /// Decrypted frames buffered for a handler that has not consumed them yet; above this the
    /// transport stops reading from the socket, so TCP flow control pushes back on the peer.
    /// Default 4 (so at most about 4 x ``maxFrameBytes`` per connection in the worst case).
    public var inboundFrameBuffer: Int

    public init(
        maxFrameBytes: Int = ChannelLimits.maxFrameBytes,
        handshakeTimeout: Duration = .seconds(10),
        unauthenticatedIdleTimeout: Duration = .seconds(5),
        keepAliveInterval: Duration = .seconds(30),
        deadPeerTimeout: Duration = .seconds(90),
        maxConnections: Int = 20_000,
        outboundHighWaterMark: Int = 64 << 10,
        outboundLowWaterMark: Int = 32 << 10,
        inboundFrameBuffer: Int = 4,
        preLoginMaxFrameBytes: Int = ChannelLimits.preLoginMaxFrameBytes,
        maxConnectionsPerAddress: Int = 32,
        maxBufferedInboundBytes: Int = 256 << 20
    ) {
        self.maxFrameBytes = min(max(maxFrameBytes, 1), Int(UInt32.max))
        self.preLoginMaxFrameBytes = min(max(preLoginMaxFrameBytes, 1), self.maxFrameBytes)
        self.maxConnectionsPerAddress = max(maxConnectionsPerAddress, 1)
        self.maxBufferedInboundBytes = max(maxBufferedInboundBytes, 1)
        self.handshakeTimeout = handshakeTimeout
        self.unauthenticatedIdleTimeout = unauthenticatedIdleTimeout
        self.keepAliveInterval = keepAliveInterval
        self.deadPeerTimeout = deadPeerTimeout
        self.maxConnections = max(maxConnections, 1)
        self.outboundHighWaterMark = max(outboundHighWaterMark, 1)
        self.outboundLowWaterMark = min(max(outboundLowWaterMark, 0), self.outboundHighWaterMark)
        self.inboundFrameBuffer = max(inboundFrameBuffer, 1)
    }
}
