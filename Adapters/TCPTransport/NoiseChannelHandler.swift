import Logging
import NIOCore
import Primitives
import SecureChannel

/// The per-connection secure channel on SwiftNIO: runs the Noise XX handshake over decoded Noise
/// messages, then turns application frames into encrypted transport messages and back, and
/// enforces the timeouts of ``ChannelLimits``.
///
/// Inbound it reads Noise messages (from ``NoiseMessageDecoder``) and emits whole application
/// frames; outbound it takes application frames and writes u16-length-prefixed transport
/// messages. Frames written before the handshake completes fail with ``ConnectionError/closed``;
/// the transports never expose the channel that early.
///
/// Any protocol failure (malformed message, failed decryption, oversized frame, wrong server key,
/// timeout) closes this connection and only this one: the error is logged, fails the handshake
/// promise if it is still pending, and is fired down the pipeline so the application's inbound
/// sequence ends with a ``ConnectionError``.
///
/// Timers: one deadline for the whole handshake, and one self-rescheduling tick that checks
/// silence (unauthenticated idle timeout, dead peer) and sends keep-alive pings. Timestamps are
/// compared on each tick instead of re-arming a timer on every read, which keeps reads cheap.
final class NoiseChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = [UInt8]
    typealias OutboundIn = [UInt8]
    typealias OutboundOut = ByteBuffer

    private enum State {
        case waitingForActive(HandshakeState)
        case handshaking(HandshakeState)
        case established(FrameCipher)
        case closed
    }

    private var state: State
    private let limits: ChannelLimits
    private let expectedRemoteStaticKey: X25519PublicKey?
    private let handshakePromise: EventLoopPromise<HandshakeOutcome>
    private var handshakeDeadline: Scheduled<Void>?
    private var tick: Scheduled<Void>?
    private var lastRead = NIODeadline.now()
    private var lastWrite = NIODeadline.now()
    private let logger: Logger
    /// This connection's share of the server's inbound byte budget; nil on a client.
    private let inboundBytes: ConnectionInboundBytes?
    /// Bytes of an incomplete frame already counted in ``inboundBytes``.
    private var countedPartialBytes = 0

    /// The future completes when the handshake succeeds, and fails with a ``ConnectionError`` when
    /// it fails or the connection closes first.
    var handshakeFuture: EventLoopFuture<HandshakeOutcome> { handshakePromise.futureResult }

    init(
        handshake: HandshakeState,
        limits: ChannelLimits,
        expectedRemoteStaticKey: X25519PublicKey?,
        eventLoop: any EventLoop,
        logger: Logger,
        inboundBytes: ConnectionInboundBytes? = nil
    ) {
        self.inboundBytes = inboundBytes
        state = .waitingForActive(handshake)
        self.limits = limits
        self.expectedRemoteStaticKey = expectedRemoteStaticKey
        handshakePromise = eventLoop.makePromise(of: HandshakeOutcome.self)
        self.logger = logger
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        inboundBytes?.end()
        cancelTimers()
        state = .closed
        handshakePromise.fail(ConnectionError.closed)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        inboundBytes?.end()
        cancelTimers()
        handshakePromise.fail(ConnectionError.closed)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Errors from below (socket errors, leftover bytes at EOF) end the connection.
        if case .closed = state { return }
        fail(context: context, ConnectionError.protocolViolation(reason: "\(error)"))
    }

    private func start(context: ChannelHandlerContext) {
        guard case .waitingForActive(var handshake) = state else { return }
        let now = NIODeadline.now()
        lastRead = now
        lastWrite = now
        let loop = context.eventLoop.assumeIsolated()
        handshakeDeadline = loop.scheduleTask(in: TimeAmount(limits.handshakeTimeout)) {
            self.logger.info("handshake timed out")
            self.fail(context: context, .handshakeTimedOut)
        }
        scheduleTick(context: context)
        if handshake.role == .initiator {
            do {
                let first = try handshake.writeMessage()
                state = .handshaking(handshake)
                writeMessage(first, context: context, flush: true)
            } catch {
                fail(context: context, .handshakeFailed(error))
            }
        } else {
            state = .handshaking(handshake)
        }
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        let message = buffer.readBytes(length: buffer.readableBytes) ?? []
        lastRead = .now()
        switch state {
        case .waitingForActive, .closed:
            return
        case .handshaking(var handshake):
            state = .closed  // never leave a stale copy behind on failure
            do {
                let payload = try handshake.readMessage(message)
                // Parley's handshake payloads are empty; anything else is not a Parley peer (and
                // message 1 is unauthenticated, so junk would otherwise pass as a payload).
                guard payload.isEmpty else {
                    throw ConnectionError.protocolViolation(reason: "non-empty handshake payload")
                }
                try advanceHandshake(&handshake, context: context)
            } catch let error as NoiseError {
                logger.info("handshake failed", metadata: ["error": "\(error)"])
                fail(context: context, .handshakeFailed(error))
            } catch let error as ConnectionError {
                logger.info("handshake refused", metadata: ["error": "\(error)"])
                fail(context: context, error)
            } catch {
                fail(context: context, .protocolViolation(reason: "\(error)"))
            }
        case .established(var cipher):
            do {
                let frames = try cipher.open(message: message)
                state = .established(cipher)
                guard account(frames, partial: cipher.bufferedBytes) else {
                    logger.notice("closing connection: the server's inbound byte budget is exhausted")
                    fail(context: context, .protocolViolation(reason: "the server holds too many inbound bytes; try again later"))
                    return
                }
                for frame in frames {
                    context.fireChannelRead(Self.wrapInboundOut(frame))
                }
            } catch {
                state = .established(cipher)
                logger.info("closing connection: bad transport message", metadata: ["error": "\(error)"])
                fail(context: context, Self.connectionError(error))
            }
        }
    }

    /// Counts what a transport message added (frames completed plus the growth of the incomplete
    /// one) against the budget; false when it does not fit.
    private func account(_ frames: [[UInt8]], partial: Int) -> Bool {
        guard let inboundBytes else { return true }
        let delta = frames.reduce(0) { $0 + $1.count } + partial - countedPartialBytes
        guard inboundBytes.adjust(by: delta) else { return false }
        countedPartialBytes = partial
        return true
    }

    /// Lifts (true) or restores (false) the pre-login inbound frame limit; see
    /// ``FrameConnection/allowLargeInboundFrames(_:)``. Runs on the event loop.
    func allowLargeInboundFrames(_ allowed: Bool) {
        guard case .established(var cipher) = state else { return }
        cipher.inboundFrameLimit = allowed ? limits.maxFrameBytes : limits.preLoginMaxFrameBytes
        state = .established(cipher)
    }

    /// After a read: writes this side's next message if it is our turn, and finishes the
    /// handshake when all three messages are done.
    private func advanceHandshake(_ handshake: inout HandshakeState, context: ChannelHandlerContext) throws {
        if handshake.nextAction == .writeMessage {
            // The initiator knows the server's static key now, before it reveals its own.
            if handshake.role == .initiator, let expected = expectedRemoteStaticKey,
               let received = handshake.remoteStaticKey, received != expected {
                throw ConnectionError.serverKeyMismatch(expected: Hex.encode(expected.bytes), received: Hex.encode(received.bytes))
            }
            writeMessage(try handshake.writeMessage(), context: context, flush: true)
        }
        guard handshake.isComplete else {
            state = .handshaking(handshake)
            return
        }
        let transport = try handshake.split()
        var cipher = FrameCipher(transport: transport, maxFrameBytes: limits.maxFrameBytes)
        // A server accepts only small frames until the application says an account logged in.
        if handshake.role == .responder { cipher.inboundFrameLimit = limits.preLoginMaxFrameBytes }
        state = .established(cipher)
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        logger.debug("handshake complete", metadata: ["remote": "\(Hex.encode(transport.remoteStaticKey.bytes))"])
        handshakePromise.succeed(HandshakeOutcome(remoteStaticKey: transport.remoteStaticKey, handshakeHash: transport.handshakeHash))
    }

    // MARK: - Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = Self.unwrapOutboundIn(data)
        guard case .established(var cipher) = state else {
            promise?.fail(ConnectionError.closed)
            return
        }
        do {
            let messages = try cipher.seal(frame: frame)
            state = .established(cipher)
            for (index, message) in messages.enumerated() {
                let last = index == messages.count - 1
                context.write(Self.wrapOutboundOut(NoiseMessageDecoder.encode(message, allocator: context.channel.allocator)), promise: last ? promise : nil)
            }
            lastWrite = .now()
        } catch {
            // Nonce exhaustion (or a frame the transport should have refused already): this
            // connection cannot send any more.
            promise?.fail(Self.connectionError(error))
            fail(context: context, Self.connectionError(error))
        }
    }

    private func writeMessage(_ message: [UInt8], context: ChannelHandlerContext, flush: Bool) {
        context.write(Self.wrapOutboundOut(NoiseMessageDecoder.encode(message, allocator: context.channel.allocator)), promise: nil)
        if flush { context.flush() }
        lastWrite = .now()
    }

    // MARK: - Timers

    private var tickInterval: TimeAmount {
        let shortest = min(limits.keepAliveInterval, limits.deadPeerTimeout, limits.unauthenticatedIdleTimeout)
        return max(.nanoseconds(TimeAmount(shortest).nanoseconds / 4), .milliseconds(10))
    }

    private func scheduleTick(context: ChannelHandlerContext) {
        tick = context.eventLoop.assumeIsolated().scheduleTask(in: tickInterval) {
            self.onTick(context: context)
        }
    }

    private func onTick(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        switch state {
        case .waitingForActive, .closed:
            return
        case .handshaking:
            if now - lastRead >= TimeAmount(limits.unauthenticatedIdleTimeout) {
                logger.info("unauthenticated connection idle, closing")
                fail(context: context, .handshakeTimedOut)
                return
            }
        case .established(var cipher):
            if now - lastRead >= TimeAmount(limits.deadPeerTimeout) {
                logger.info("peer silent past the dead-peer timeout, closing")
                fail(context: context, .peerTimedOut)
                return
            }
            if now - lastWrite >= TimeAmount(limits.keepAliveInterval) {
                do {
                    let ping = try cipher.sealPing()
                    state = .established(cipher)
                    writeMessage(ping, context: context, flush: true)
                } catch {
                    fail(context: context, Self.connectionError(error))
                    return
                }
            }
        }
        scheduleTick(context: context)
    }

    private func cancelTimers() {
        handshakeDeadline?.cancel()
        handshakeDeadline = nil
        tick?.cancel()
        tick = nil
    }

    // MARK: - Failure

    private func fail(context: ChannelHandlerContext, _ error: ConnectionError) {
        if case .closed = state, !context.channel.isActive { return }
        state = .closed
        cancelTimers()
        handshakePromise.fail(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private static func connectionError(_ error: any Error) -> ConnectionError {
        switch error {
        case let error as ConnectionError: error
        case FrameError.frameTooLarge(let length, let limit): .frameTooLarge(length: length, limit: limit)
        case FrameError.emptyFrame: .emptyFrame
        case FrameError.transport(let noise): .protocolViolation(reason: "transport message: \(noise)")
        default: .protocolViolation(reason: "\(error)")
        }
    }
}
