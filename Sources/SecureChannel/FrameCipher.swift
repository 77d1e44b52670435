import Primitives

/// The frame layer over a ``NoiseTransport``: application frames in, Noise transport messages out,
/// and back.
///
/// Wire format of the decrypted stream: each frame is a u32 big-endian length followed by its
/// bytes; the stream is cut into chunks of at most ``ChannelLimits/maxChunkPlaintextBytes`` (65535
/// - 16) bytes and each chunk is one Noise transport message. This sender starts a new chunk for
/// each frame, but a receiver must not rely on that (``FrameAssembler`` accepts any cut), so other
/// implementations may pack frames differently.
///
/// Control channel: a zero-length frame is a keep-alive ping. The receiver drops it (it only shows
/// the peer is alive) and never answers it; each side sends its own pings when it has been quiet for
/// ``ChannelLimits/keepAliveInterval``. Because of this reservation, applications cannot send empty
/// frames (``FrameError/emptyFrame``).
public struct FrameCipher: Sendable {
    private var transport: NoiseTransport
    private var assembler: FrameAssembler
    /// The largest frame sent or accepted.
    public let maxFrameBytes: Int
    /// How many keep-alive pings have been received.
    public private(set) var pingsReceived: UInt64 = 0

    /// - Parameters:
    ///   - transport: the cipher states from a completed handshake.
    ///   - maxFrameBytes: the largest frame sent or accepted.
    public init(transport: NoiseTransport, maxFrameBytes: Int = ChannelLimits.maxFrameBytes) {
        self.transport = transport
        self.maxFrameBytes = maxFrameBytes
        assembler = FrameAssembler(maxFrameBytes: maxFrameBytes)
    }

    /// The largest frame accepted from the peer, at most ``maxFrameBytes``: lowered while the
    /// peer has not logged in (``ChannelLimits/preLoginMaxFrameBytes``). A change applies from the
    /// next frame's length prefix on.
    public var inboundFrameLimit: Int {
        get { assembler.maxFrameBytes }
        set { assembler.maxFrameBytes = min(max(newValue, 1), maxFrameBytes) }
    }

    /// Bytes of a frame received so far but not complete yet.
    public var bufferedBytes: Int { assembler.bufferedBytes }

    /// The peer's authenticated static public key.
    public var remoteStaticKey: X25519PublicKey { transport.remoteStaticKey }
    /// The handshake hash, equal on both sides.
    public var handshakeHash: [UInt8] { transport.handshakeHash }

    /// Encrypts one application frame into one or more Noise transport messages, in sending order.
    /// - Throws: ``FrameError/emptyFrame``, ``FrameError/frameTooLarge(length:limit:)``, or
    ///   ``FrameError/transport(_:)`` (nonce exhaustion).
    public mutating func seal(frame: [UInt8]) throws(FrameError) -> [[UInt8]] {
        guard !frame.isEmpty else { throw .emptyFrame }
        guard frame.count <= maxFrameBytes else { throw .frameTooLarge(length: frame.count, limit: maxFrameBytes) }
        var messages: [[UInt8]] = []
        messages.reserveCapacity((frame.count + 4) / ChannelLimits.maxChunkPlaintextBytes + 1)
        var chunk = Self.prefix(UInt32(frame.count))
        var offset = 0
        while offset < frame.count || !chunk.isEmpty {
            let take = min(ChannelLimits.maxChunkPlaintextBytes - chunk.count, frame.count - offset)
            chunk.append(contentsOf: frame[offset..<offset + take])
            offset += take
            messages.append(try encrypt(chunk))
            chunk = []
        }
        return messages
    }

    /// One transport message carrying a keep-alive ping (a zero-length frame).
    /// - Throws: ``FrameError/transport(_:)`` on nonce exhaustion.
    public mutating func sealPing() throws(FrameError) -> [UInt8] {
        try encrypt(Self.prefix(0))
    }

    /// Decrypts one Noise transport message and returns the application frames it completes
    /// (pings are counted and dropped).
    /// - Throws: ``FrameError/transport(_:)`` when the message does not decrypt (tampered, replayed,
    ///   out of order); ``FrameError/frameTooLarge(length:limit:)`` when the peer declares a frame
    ///   over the limit. Either way the stream is unusable and the connection must be closed.
    public mutating func open(message: [UInt8]) throws(FrameError) -> [[UInt8]] {
        let chunk: [UInt8]
        do {
            chunk = try transport.decrypt(message)
        } catch {
            throw .transport(error)
        }
        var frames = try assembler.append(chunk)
        let before = frames.count
        frames.removeAll { $0.isEmpty }
        pingsReceived += UInt64(before - frames.count)
        return frames
    }

    private mutating func encrypt(_ chunk: [UInt8]) throws(FrameError) -> [UInt8] {
        do {
            return try transport.encrypt(chunk)
        } catch {
            throw .transport(error)
        }
    }

    private static func prefix(_ length: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: 4)
        writer.write(length)
        return writer.bytes
    }
}
