import Dispatch
import Primitives
import SecureChannel
import Synchronization

/// A pair of connected in-memory ``FrameConnection``s: the server application and the client
/// application talk through the same ports they use over TCP, minus the network.
final class InMemoryConnection: FrameConnection {
    let id: ConnectionID
    let remoteStaticKey: X25519PublicKey
    let handshakeHash: [UInt8] = [UInt8](repeating: 0, count: 64)
    let remoteAddress: SourceAddress?
    private let outbound: AsyncStream<[UInt8]>.Continuation
    private let closeBoth: @Sendable () -> Void

    init(
        id: UInt64, remoteStaticKey: X25519PublicKey, remoteAddress: SourceAddress? = nil, outbound: AsyncStream<[UInt8]>.Continuation,
        closeBoth: @escaping @Sendable () -> Void
    ) {
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

    /// Two ends: what the client holds and what the server holds (served with
    /// ``InMemoryEventConnection/serve(_:inbound:)``).
    /// - Parameter clientAddress: where the server sees the client come from (nil: nowhere).
    static func pair(
        id: UInt64, serverKey: X25519PublicKey, clientKey: X25519PublicKey, clientAddress: SourceAddress? = nil
    ) -> (client: (InMemoryConnection, InboundFrames), server: (InMemoryEventConnection, InboundFrames)) {
        let (toServer, toServerContinuation) = AsyncStream<[UInt8]>.makeStream()
        let (toClient, toClientContinuation) = AsyncStream<[UInt8]>.makeStream()
        let close: @Sendable () -> Void = {
            toServerContinuation.finish()
            toClientContinuation.finish()
        }
        let client = InMemoryConnection(id: id, remoteStaticKey: serverKey, outbound: toServerContinuation, closeBoth: close)
        let server = InMemoryEventConnection(id: id, remoteStaticKey: clientKey, remoteAddress: clientAddress, outbound: toClientContinuation, closeBoth: close)
        let translate: @Sendable (any Error) -> ConnectionError = { _ in .closed }
        return ((client, InboundFrames(toClient, translateError: translate)), (server, InboundFrames(toServer, translateError: translate)))
    }
}

/// The server's end of an in-memory connection, driven the way the TCP transport drives one: a
/// serial queue is the connection's context, frames reach the receiver only while it wants them
/// (the next one waits meanwhile, as the transport stops reading), and writes go to the client's
/// inbound stream.
final class InMemoryEventConnection: FrameEventConnection, @unchecked Sendable {
    let id: ConnectionID
    let remoteStaticKey: X25519PublicKey
    let handshakeHash: [UInt8] = [UInt8](repeating: 0, count: 64)
    let remoteAddress: SourceAddress?
    private let outbound: AsyncStream<[UInt8]>.Continuation
    private let closeBoth: @Sendable () -> Void
    private let queue = DispatchQueue(label: "parley.test.connection")

    // Touched only on `queue`.
    private var receiver: (any FrameEventReceiver)?
    private var waiting: (frame: [UInt8], continuation: CheckedContinuation<Bool, Never>)?
    private var isClosed = false

    init(
        id: UInt64, remoteStaticKey: X25519PublicKey, remoteAddress: SourceAddress?, outbound: AsyncStream<[UInt8]>.Continuation,
        closeBoth: @escaping @Sendable () -> Void
    ) {
        self.id = ConnectionID(rawValue: id)
        self.remoteStaticKey = remoteStaticKey
        self.remoteAddress = remoteAddress
        self.outbound = outbound
        self.closeBoth = closeBoth
    }

    /// Serves this connection with `handler` until the client closes it, the server does, or the
    /// calling task is cancelled; the receiver has heard ``FrameEventReceiver/closed()`` when it
    /// returns.
    func serve(_ handler: some FrameEventHandler, inbound: InboundFrames) async {
        await onQueue { self.receiver = handler.accept(self) }
        do {
            for try await frame in inbound {
                guard await deliver(frame) else { break }
            }
        } catch {}
        await onQueue { self.finish() }
    }

    private func onQueue(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                work()
                continuation.resume()
            }
        }
    }

    /// Hands `frame` over once the receiver wants it; false when the connection closed first.
    private func deliver(_ frame: [UInt8]) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                queue.async {
                    guard !self.isClosed, let receiver = self.receiver else { return continuation.resume(returning: false) }
                    if receiver.wantsFrames {
                        receiver.received(frame)
                        continuation.resume(returning: true)
                    } else {
                        self.waiting = (frame, continuation)
                    }
                }
            }
        } onCancel: {
            queue.async { self.finish() }
        }
    }

    private func finish() {
        guard !isClosed else { return }
        isClosed = true
        closeBoth()
        waiting?.continuation.resume(returning: false)
        waiting = nil
        let receiver = self.receiver
        self.receiver = nil
        receiver?.closed()
    }

    func execute(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    func schedule(after delay: Duration, _ work: @escaping @Sendable () -> Void) -> ScheduledWork {
        let cancelled = LockedValue(false)
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) {
            if !cancelled.withLock({ $0 }) { work() }
        }
        return ScheduledWork { cancelled.withLock { $0 = true } }
    }

    func write(_ frame: [UInt8]) {
        guard !isClosed else { return }
        outbound.yield(frame)
    }

    var isWritable: Bool { true }

    func resumeReading() {
        guard let (frame, continuation) = waiting, let receiver, receiver.wantsFrames else { return }
        waiting = nil
        receiver.received(frame)
        continuation.resume(returning: true)
    }

    func allowLargeInboundFrames(_ allowed: Bool) {}

    func close() { finish() }
}
