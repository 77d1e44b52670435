/// Why the frame layer refused a frame or a decrypted chunk.
public enum FrameError: Error, Equatable, Sendable {
    /// A frame (sent, or declared by the peer's length prefix) is longer than the channel's
    /// maximum. On receipt this is detected from the 4-byte prefix, before any of the frame is
    /// buffered.
    case frameTooLarge(length: Int, limit: Int)
    /// An application tried to send a zero-length frame. Zero-length frames are reserved as
    /// keep-alive pings (see ``FrameCipher``).
    case emptyFrame
    /// A Noise transport message could not be encrypted or decrypted; the stream is unusable.
    case transport(NoiseError)
}
