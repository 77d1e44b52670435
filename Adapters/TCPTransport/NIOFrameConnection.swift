import NIOCore
import Primitives
import SecureChannel

/// The ``FrameConnection`` port over an `NIOAsyncChannel` whose pipeline ends in
/// ``NoiseChannelHandler``.
///
/// Back-pressure: `send` writes the frame straight into the channel and suspends until NIO has
/// handed its last byte to the kernel. When the peer reads slowly, the kernel's socket buffers fill,
/// NIO cannot write, and `send` stays suspended; so each sending task holds at most one frame in
/// flight and a slow reader cannot make this side buffer without bound.
///
/// NIO's `NIOAsyncChannelOutboundWriter` was tried first and rejected: it learns that the channel
/// became unwritable only after the event loop has processed the queued writes, so a fast sender
/// on another thread queued 50 MiB for a reader that read nothing (see the loopback test
/// `sendSuspendsWhileTheReaderIsSlow`).
struct NIOFrameConnection: FrameConnection {
    let id: ConnectionID
    let remoteStaticKey: X25519PublicKey
    let handshakeHash: [UInt8]
    let maxFrameBytes: Int
    let channel: any Channel

    /// The channel's remote IP address, without the port, so that every connection from one host
    /// shares its rate limits.
    var remoteAddress: String { channel.remoteAddress?.ipAddress ?? "unknown" }

    func send(_ frame: [UInt8]) async throws(ConnectionError) {
        guard !frame.isEmpty else { throw .emptyFrame }
        guard frame.count <= maxFrameBytes else { throw .frameTooLarge(length: frame.count, limit: maxFrameBytes) }
        do {
            try await channel.writeAndFlush(frame).get()
        } catch {
            throw ConnectionError.translating(error)
        }
    }

    /// All the frames are written in one event-loop task with one flush; it waits for the last,
    /// which NIO completes after every earlier write.
    func send(contentsOf frames: [[UInt8]]) async throws(ConnectionError) {
        guard let last = frames.last else { return }
        for frame in frames {
            guard !frame.isEmpty else { throw .emptyFrame }
            guard frame.count <= maxFrameBytes else { throw .frameTooLarge(length: frame.count, limit: maxFrameBytes) }
        }
        let channel = self.channel
        do {
            try await channel.eventLoop.flatSubmit {
                for frame in frames.dropLast() { channel.write(frame, promise: nil) }
                return channel.writeAndFlush(last)
            }.get()
        } catch {
            throw ConnectionError.translating(error)
        }
    }

    func close() async {
        try? await channel.close()
    }
}

extension ConnectionError {
    /// Maps whatever NIO (or the handler) threw to the port's error. Closed-channel conditions of
    /// every flavour become ``ConnectionError/closed``.
    static func translating(_ error: any Error) -> ConnectionError {
        if let error = error as? ConnectionError { return error }
        if let error = error as? ChannelError {
            switch error {
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof: return .closed
            default: return .protocolViolation(reason: "\(error)")
            }
        }
        if error is CancellationError { return .closed }
        return .protocolViolation(reason: "\(error)")
    }
}

extension InboundFrames {
    /// The application's view of an `NIOAsyncChannel`'s inbound frames.
    init(_ inbound: NIOAsyncChannelInboundStream<[UInt8]>) {
        self.init(inbound, translateError: ConnectionError.translating)
    }
}
