/// Reassembles application frames from the decrypted byte stream of a secure channel.
///
/// The stream is a sequence of frames, each a u32 big-endian length followed by that many bytes;
/// Noise transport messages cut it at arbitrary points, so a chunk may hold part of a frame, several
/// frames, or the end of one and the start of the next. The assembler is a pure value: feed it
/// chunks in order with ``append(_:)`` and it returns every frame completed so far.
///
/// A declared length above the limit is refused as soon as its 4-byte prefix is complete, before
/// any of the frame is buffered, and frame storage grows only with bytes actually received (a peer
/// cannot make it reserve 16 MiB by declaring 16 MiB). After an error the assembler is poisoned:
/// the stream has no recoverable boundary.
public struct FrameAssembler: Sendable {
    /// The largest frame accepted; a change applies from the next length prefix on.
    public var maxFrameBytes: Int
    private var header: [UInt8] = []
    private var expectedLength: Int?
    private var body: [UInt8] = []
    private var failure: FrameError?

    /// - Parameter maxFrameBytes: the largest declared length accepted.
    public init(maxFrameBytes: Int = ChannelLimits.maxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes of the current, incomplete frame (prefix included) held so far.
    public var bufferedBytes: Int { header.count + body.count }

    /// Whether a frame is partially received (the stream is mid-frame).
    public var isMidFrame: Bool { !header.isEmpty || expectedLength != nil }

    /// Adds the next decrypted chunk and returns the frames it completes, in order. Zero-length
    /// frames are returned too (as empty arrays); the caller decides what they mean.
    /// - Throws: ``FrameError/frameTooLarge(length:limit:)`` when a prefix declares more than
    ///   ``maxFrameBytes``; the same error again on every later call.
    public mutating func append(_ chunk: some Collection<UInt8>) throws(FrameError) -> [[UInt8]] {
        if let failure { throw failure }
        var frames: [[UInt8]] = []
        var index = chunk.startIndex
        while index != chunk.endIndex {
            if let expected = expectedLength {
                let wanted = expected - body.count
                let available = chunk.distance(from: index, to: chunk.endIndex)
                let take = min(wanted, available)
                let end = chunk.index(index, offsetBy: take)
                body.append(contentsOf: chunk[index..<end])
                index = end
                if body.count == expected {
                    frames.append(body)
                    body = []
                    expectedLength = nil
                }
            } else {
                header.append(chunk[index])
                index = chunk.index(after: index)
                if header.count == ChannelLimits.frameLengthPrefixBytes {
                    let length = Int(header.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                    header.removeAll(keepingCapacity: false)
                    guard length <= maxFrameBytes else {
                        let error = FrameError.frameTooLarge(length: length, limit: maxFrameBytes)
                        failure = error
                        throw error
                    }
                    if length == 0 {
                        frames.append([])
                    } else {
                        expectedLength = length
                    }
                }
            }
        }
        return frames
    }
}
