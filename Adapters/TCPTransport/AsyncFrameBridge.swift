import NIOConcurrencyHelpers
import NIOCore
import Primitives
import SecureChannel

/// Serves event-driven connections with a task-per-connection ``FrameConnectionHandler``: each
/// connection's frames become an ``InboundFrames`` sequence, and the handler sends through a
/// ``NIOFrameConnection`` (whose `send` waits for the socket, so a slow reader slows it). For the
/// transport's tests and tools (echo servers, floods); Parley's server is a ``FrameEventHandler``
/// and never pays for a task per connection.
///
/// Back-pressure inbound: the receiver takes frames while fewer than the transport's
/// ``ChannelLimits/inboundFrameBuffer`` wait in the sequence; each frame stays counted in the
/// server's inbound byte budget until the handler takes it.
final class AsyncFrameBridge: Sendable {
    private let handler: any FrameConnectionHandler
    private let tasks = NIOLockedValueBox<[ConnectionID: Task<Void, Never>]>([:])

    init(_ handler: any FrameConnectionHandler) {
        self.handler = handler
    }

    /// Starts the handler's task for `connection`. On the channel's event loop; `failure` tells,
    /// when the connection closes, the error that ended it (nil when the peer just left).
    func accept(
        _ connection: NIOEventConnection, channel: any Channel, maxFrameBytes: Int, maxBuffered: Int, inboundBytes: ConnectionInboundBytes?,
        failure: @escaping () -> ConnectionError?
    ) -> any FrameEventReceiver {
        let receiver = BridgeReceiver(connection: connection, maxBuffered: maxBuffered, inboundBytes: inboundBytes, failure: failure)
        let frames = NIOFrameConnection(
            id: connection.id, remoteStaticKey: connection.remoteStaticKey, handshakeHash: connection.handshakeHash,
            maxFrameBytes: maxFrameBytes, channel: channel, remoteAddress: connection.remoteAddress)
        let handler = self.handler
        let id = connection.id
        tasks.withLockedValue { tasks in
            tasks[id] = Task {
                await handler.serve(frames, inbound: receiver.inbound)
                try? await channel.close()
                self.tasks.withLockedValue { _ = $0.removeValue(forKey: id) }
            }
        }
        return receiver
    }

    /// Cancels every handler task and waits for them (at shutdown).
    func stop() async {
        let running = tasks.withLockedValue { $0 }
        for task in running.values { task.cancel() }
        for task in running.values { await task.value }
    }
}

/// One connection's frames on their way into an ``InboundFrames`` sequence.
private final class BridgeReceiver: FrameEventReceiver, @unchecked Sendable {
    private let connection: NIOEventConnection
    private let maxBuffered: Int
    private let inboundBytes: ConnectionInboundBytes?
    /// Read on the event loop when the connection closes.
    private let failure: () -> ConnectionError?
    private let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    private let stream: AsyncThrowingStream<[UInt8], any Error>
    /// Frames yielded and not taken yet (the event loop adds, the handler's task takes).
    private let buffered = NIOLockedValueBox(0)

    init(connection: NIOEventConnection, maxBuffered: Int, inboundBytes: ConnectionInboundBytes?, failure: @escaping () -> ConnectionError?) {
        self.connection = connection
        self.maxBuffered = maxBuffered
        self.inboundBytes = inboundBytes
        self.failure = failure
        (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
    }

    var inbound: InboundFrames {
        InboundFrames(Taken(base: stream, receiver: self), translateError: ConnectionError.translating)
    }

    var wantsFrames: Bool { buffered.withLockedValue { $0 } < maxBuffered }

    func received(_ frame: [UInt8]) {
        buffered.withLockedValue { $0 += 1 }
        continuation.yield(frame)
    }

    func writabilityChanged(_ isWritable: Bool) {}

    func closed() {
        if let failure = failure() { continuation.finish(throwing: failure) } else { continuation.finish() }
    }

    /// The handler took `frame`: its bytes leave the budget, and the transport may hand over more.
    fileprivate func took(_ frame: [UInt8]) {
        _ = inboundBytes?.adjust(by: -frame.count)
        let wasFull = buffered.withLockedValue { count -> Bool in
            defer { count -= 1 }
            return count >= maxBuffered
        }
        if wasFull { connection.execute { [connection] in connection.resumeReading() } }
    }

    private struct Taken: AsyncSequence, Sendable {
        typealias Element = [UInt8]
        let base: AsyncThrowingStream<[UInt8], any Error>
        let receiver: BridgeReceiver

        func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), receiver: receiver) }

        struct Iterator: AsyncIteratorProtocol {
            var base: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator
            let receiver: BridgeReceiver

            mutating func next() async throws -> [UInt8]? {
                guard let frame = try await base.next() else { return nil }
                receiver.took(frame)
                return frame
            }
        }
    }
}
