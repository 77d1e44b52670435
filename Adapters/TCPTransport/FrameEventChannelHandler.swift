import Logging
import NIOCore
import Primitives
import SecureChannel

/// The last handler of a server connection's pipeline: it drives the application's
/// ``FrameEventReceiver`` from the channel's events, on the channel's event loop (the way NIOSSH
/// drives its connection state machine from its channel handler), in place of an async channel, a
/// serve task and a session actor per connection.
///
/// Inbound: frames from ``NoiseChannelHandler`` go straight to the receiver while it wants them;
/// otherwise (a request being answered, the in-flight limits reached, the peer not reading) they
/// are held, and once ``ChannelLimits/inboundFrameBuffer`` are held the socket is no longer read
/// (the `read` call is not passed on) until the receiver calls
/// ``FrameEventConnection/resumeReading()``. Held frames stay counted in the server's inbound byte
/// budget until the receiver takes them.
///
/// Outbound: the receiver's writes are passed to the Noise handler unflushed and flushed once
/// at the end of the event that made them (a read burst's `channelReadComplete`, an executed
/// block, a timer), so a burst of answers or deliveries leaves in one `writev`.
final class FrameEventChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = [UInt8]
    typealias OutboundIn = [UInt8]
    typealias OutboundOut = [UInt8]

    /// What serves the connection once the handshake is done.
    enum Application: Sendable {
        case events(any FrameEventHandler)
        /// A task-per-connection handler, bridged (tests and tools; see ``AsyncFrameBridge``).
        case bridged(AsyncFrameBridge)
    }

    private let id: ConnectionID
    private let remoteAddress: SourceAddress?
    private let noise: NoiseChannelHandler
    private let inboundBytes: ConnectionInboundBytes?
    private let maxHeldFrames: Int
    private let maxFrameBytes: Int
    private let logger: Logger

    private var context: ChannelHandlerContext?
    private var outcome: HandshakeOutcome?
    private var application: Application?
    private var receiver: (any FrameEventReceiver)?
    /// Frames waiting for the receiver, oldest first from `heldStart`.
    private var held: [[UInt8]] = []
    private var heldStart = 0
    /// A `read` the pipeline asked for and this handler did not pass on.
    private var readPending = false
    private var delivering = false
    private var needsFlush = false
    private var isClosed = false
    /// Whether frames handed to the receiver stay counted in the budget (the bridge gives them
    /// back as its handler takes them).
    private var releasesOnDelivery = true
    /// The error that ended the connection, if it failed (for the bridge's inbound sequence).
    private var failure: ConnectionError?

    init(
        id: ConnectionID, remoteAddress: SourceAddress?, noise: NoiseChannelHandler, inboundBytes: ConnectionInboundBytes?,
        limits: ChannelLimits, logger: Logger
    ) {
        self.id = id
        self.remoteAddress = remoteAddress
        self.noise = noise
        self.inboundBytes = inboundBytes
        maxHeldFrames = max(1, limits.inboundFrameBuffer)
        maxFrameBytes = limits.maxFrameBytes
        self.logger = logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        noise.handshakeFuture.assumeIsolated().whenSuccess { outcome in
            self.outcome = outcome
            self.open()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Hands the connection to `application` (called by the accept loop, on the event loop).
    func attach(_ application: Application) {
        guard self.application == nil else { return }
        self.application = application
        open()
    }

    /// Makes the receiver once both the handshake and the application are there.
    private func open() {
        guard receiver == nil, !isClosed, let outcome, let application, let context else { return }
        let connection = NIOEventConnection(
            id: id, remoteStaticKey: outcome.remoteStaticKey, handshakeHash: outcome.handshakeHash, remoteAddress: remoteAddress,
            handler: self, eventLoop: context.eventLoop)
        switch application {
        case .events(let handler):
            receiver = handler.accept(connection)
        case .bridged(let bridge):
            releasesOnDelivery = false
            receiver = bridge.accept(
                connection, channel: context.channel, maxFrameBytes: maxFrameBytes, maxBuffered: maxHeldFrames, inboundBytes: inboundBytes,
                failure: { [unowned self] in self.failure })
        }
        deliverHeld()
        flushIfNeeded()
    }

    func channelInactive(context: ChannelHandlerContext) {
        markClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The Noise handler logs what it refuses and closes the connection; keep the cause.
        if failure == nil { failure = ConnectionError.translating(error) }
        logger.debug("connection error", metadata: ["connection": "\(id)", "error": "\(error)"])
    }

    private func markClosed() {
        guard !isClosed else { return }
        isClosed = true
        held = []
        heldStart = 0
        let receiver = self.receiver
        self.receiver = nil
        receiver?.closed()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        guard !isClosed else { return }
        if let receiver, heldStart == held.count, receiver.wantsFrames {
            hand(frame, to: receiver)
        } else {
            held.append(frame)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if held.count - heldStart >= maxHeldFrames {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        receiver?.writabilityChanged(context.channel.isWritable)
        flushIfNeeded()
        context.fireChannelWritabilityChanged()
    }

    private func hand(_ frame: [UInt8], to receiver: any FrameEventReceiver) {
        if releasesOnDelivery { _ = inboundBytes?.adjust(by: -frame.count) }
        receiver.received(frame)
    }

    /// Gives held frames to the receiver while it wants them, then reads again if a read waits.
    private func deliverHeld() {
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        while heldStart < held.count, let receiver, receiver.wantsFrames {
            let frame = held[heldStart]
            held[heldStart] = []
            heldStart += 1
            hand(frame, to: receiver)
        }
        if heldStart == held.count {
            held = []
            heldStart = 0
        }
    }

    // MARK: For NIOEventConnection (on the event loop)

    func resumeReading() {
        deliverHeld()
        if readPending, held.count - heldStart < maxHeldFrames, let context {
            readPending = false
            context.read()
        }
    }

    func write(_ frame: [UInt8]) {
        guard !isClosed, let context, !frame.isEmpty, frame.count <= maxFrameBytes else { return }
        context.write(Self.wrapOutboundOut(frame), promise: nil)
        needsFlush = true
    }

    func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    var isWritable: Bool { context?.channel.isWritable ?? false }

    func allowLargeInboundFrames(_ allowed: Bool) {
        noise.allowLargeInboundFrames(allowed)
    }

    /// Flushes what was written (a last push such as signed-in-elsewhere goes out first: NIO
    /// drops unflushed writes at close), then closes.
    func close() {
        flushIfNeeded()
        context?.close(promise: nil)
    }
}

/// The ``FrameEventConnection`` port over a ``FrameEventChannelHandler``: what the application's
/// receiver holds. Everything but ``execute(_:)`` runs on the channel's event loop, as the port
/// requires.
final class NIOEventConnection: FrameEventConnection, @unchecked Sendable {
    let id: ConnectionID
    let remoteStaticKey: X25519PublicKey
    let handshakeHash: [UInt8]
    let remoteAddress: SourceAddress?
    /// Touched only on `eventLoop`.
    private let handler: FrameEventChannelHandler
    private let eventLoop: any EventLoop

    init(
        id: ConnectionID, remoteStaticKey: X25519PublicKey, handshakeHash: [UInt8], remoteAddress: SourceAddress?,
        handler: FrameEventChannelHandler, eventLoop: any EventLoop
    ) {
        self.id = id
        self.remoteStaticKey = remoteStaticKey
        self.handshakeHash = handshakeHash
        self.remoteAddress = remoteAddress
        self.handler = handler
        self.eventLoop = eventLoop
    }

    func execute(_ work: @escaping @Sendable () -> Void) {
        eventLoop.execute {
            work()
            self.handler.flushIfNeeded()
        }
    }

    func schedule(after delay: Duration, _ work: @escaping @Sendable () -> Void) -> ScheduledWork {
        let scheduled = eventLoop.scheduleTask(in: TimeAmount(delay)) {
            work()
            self.handler.flushIfNeeded()
        }
        return ScheduledWork { scheduled.cancel() }
    }

    func write(_ frame: [UInt8]) { handler.write(frame) }
    var isWritable: Bool { handler.isWritable }
    func resumeReading() { handler.resumeReading() }
    func allowLargeInboundFrames(_ allowed: Bool) { handler.allowLargeInboundFrames(allowed) }
    func close() { handler.close() }
}
