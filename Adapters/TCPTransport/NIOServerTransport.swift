import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Primitives
import SecureChannel

/// Parley's server transport: TCP on SwiftNIO, each connection secured by Noise XX as the
/// responder, authenticated connections handed to a ``FrameConnectionHandler``.
///
/// Wire format: Noise messages, each prefixed by a u16 big-endian length; after the handshake the
/// decrypted stream carries application frames as described by ``FrameCipher``.
///
/// Usage:
/// ```swift
/// let server = try await NIOServerTransport.bind(host: "127.0.0.1", port: 0, localStatic: keys,
///                                                crypto: crypto, random: random)
/// try await server.serve(handler)   // until the task is cancelled
/// ```
///
/// Limits (all from ``ChannelLimits``): a handshake must finish within `handshakeTimeout`, and an
/// unauthenticated connection silent for `unauthenticatedIdleTimeout` is dropped; at most
/// `maxConnections` connections exist at once, at most `maxConnectionsPerAddress` from one source
/// address, and further ones are closed on accept; frames are limited to `preLoginMaxFrameBytes`
/// until the application lifts the limit at login; all connections together hold at most
/// `maxBufferedInboundBytes` of inbound frames, and one that would exceed it is closed; idle
/// authenticated connections stay open, kept alive by pings, until nothing has arrived for
/// `deadPeerTimeout`; `send` suspends under back-pressure; any malformed input closes only the
/// connection that sent it.
public struct NIOServerTransport: Sendable {
    private let listener: NIOAsyncChannel<ServerConnection, Never>
    private let logger: Logger
    private let admission: ConnectionAdmission
    private let inboundBudget: InboundByteBudget

    /// The TCP port the server listens on (useful after binding port 0).
    public let localPort: Int

    /// The server's static public key: its identity, which clients may pin.
    public let localStaticKey: X25519PublicKey

    /// Binds the listening socket.
    ///
    /// - Parameters:
    ///   - host: the address to listen on, e.g. "127.0.0.1" or "0.0.0.0".
    ///   - port: the TCP port; 0 picks a free one (see ``localPort``).
    ///   - localStatic: the server's long-term X25519 key pair.
    ///   - crypto: the crypto port (libsodium in production).
    ///   - random: the source of ephemeral keys.
    ///   - limits: timeouts, sizes and the connection cap.
    ///   - group: the event loops to run on; defaults to NIO's shared singleton group.
    ///   - logger: where connection-level events are logged (never key material).
    /// - Throws: ``ConnectionError/connectFailed(host:port:reason:)`` when the address cannot be bound.
    public static func bind(
        host: String,
        port: Int,
        localStatic: X25519KeyPair,
        crypto: any CryptoProvider,
        random: any RandomSource,
        limits: ChannelLimits = ChannelLimits(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "parley.transport.server")
    ) async throws(ConnectionError) -> NIOServerTransport {
        let admission = ConnectionAdmission(limits: limits)
        let inboundBudget = InboundByteBudget(limit: limits.maxBufferedInboundBytes)
        let nextID = ManagedCounter()
        let listener: NIOAsyncChannel<ServerConnection, Never>
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: limits.outboundLowWaterMark, high: limits.outboundHighWaterMark))
                .bind(host: host, port: port) { channel in
                    let address = SourceAddress(channel.remoteAddress)
                    switch admission.admit(address) {
                    case nil:
                        break
                    case .total?:
                        logger.notice("connection limit reached, closing new connection", metadata: ["limit": "\(limits.maxConnections)"])
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(ConnectionError.closed)
                    case .perAddress?:
                        logger.notice("per-address connection limit reached, closing new connection", metadata: [
                            "limit": "\(limits.maxConnectionsPerAddress)", "address": "\(address.map(String.init(describing:)) ?? "-")",
                        ])
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(ConnectionError.closed)
                    }
                    channel.closeFuture.whenComplete { _ in
                        admission.release(address)
                    }
                    let id = ConnectionID(rawValue: nextID.next())
                    var connectionLogger = logger
                    connectionLogger[metadataKey: "connection"] = "\(id)"
                    return channel.eventLoop.makeCompletedFuture {
                        try ServerConnection(
                            configuring: channel, id: id, localStatic: localStatic, crypto: crypto, random: random, limits: limits,
                            logger: connectionLogger, inboundBytes: ConnectionInboundBytes(budget: inboundBudget), remoteAddress: address)
                    }
                }
        } catch {
            throw .connectFailed(host: host, port: port, reason: "\(error)")
        }
        guard let boundPort = listener.channel.localAddress?.port else {
            try? await listener.channel.close()
            throw .connectFailed(host: host, port: port, reason: "no local address after bind")
        }
        return NIOServerTransport(
            listener: listener, logger: logger, admission: admission, inboundBudget: inboundBudget,
            localPort: boundPort, localStaticKey: localStatic.publicKey)
    }

    /// How many connections (authenticated or still handshaking) are open right now.
    public var connectionCount: Int { admission.count }

    /// Inbound bytes held for all connections right now (see
    /// ``ChannelLimits/maxBufferedInboundBytes``).
    public var bufferedInboundBytes: Int { inboundBudget.current }

    /// Accepts connections and serves each authenticated one with `handler`, driven by events on
    /// its channel's event loop (see ``FrameEventConnection``), until the calling task is
    /// cancelled; then stops listening, closes every connection, and returns once all are closed
    /// (each receiver has heard ``FrameEventReceiver/closed()``). Call it once.
    ///
    /// - Throws: only if the listening socket itself fails, translated to ``ConnectionError``.
    public func serve(_ handler: some FrameEventHandler) async throws {
        try await accept(.events(handler))
    }

    /// Serves each authenticated connection with a task-per-connection `handler` (tests and
    /// tools): its frames as an ``InboundFrames`` sequence, its sends through a
    /// ``FrameConnection`` that waits for the socket. Returns, once cancelled, after every
    /// handler's task has returned.
    public func serve(_ handler: some FrameConnectionHandler) async throws {
        let bridge = AsyncFrameBridge(handler)
        do {
            try await accept(.bridged(bridge))
        } catch {
            await bridge.stop()
            throw error
        }
        await bridge.stop()
    }

    private func accept(_ application: FrameEventChannelHandler.Application) async throws {
        let live = LiveConnections()
        var failure: (any Error)?
        do {
            try await listener.executeThenClose { accepted in
                try await withTaskCancellationHandler {
                    for try await connection in accepted {
                        guard live.insert(connection) else {
                            connection.channel.close(promise: nil)
                            continue
                        }
                        let events = connection.events
                        connection.channel.eventLoop.execute { events.value.attach(application) }
                    }
                } onCancel: {
                    live.closeAll()
                }
            }
        } catch {
            failure = error
        }
        live.closeAll()
        await live.waitUntilClosed()
        if let failure { throw ConnectionError.translating(failure) }
    }
}

/// The connections a serving transport has handed out and not yet seen close, so that shutdown
/// can close them all and wait for them.
private final class LiveConnections: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var closing = false
    }

    private let state = NIOLockedValueBox(State())

    /// Tracks `connection` until it closes; false once shutdown has begun.
    func insert(_ connection: ServerConnection) -> Bool {
        let channel = connection.channel
        let key = ObjectIdentifier(channel)
        let added = state.withLockedValue { state -> Bool in
            guard !state.closing else { return false }
            state.channels[key] = channel
            return true
        }
        guard added else { return false }
        channel.closeFuture.whenComplete { _ in
            self.state.withLockedValue { _ = $0.channels.removeValue(forKey: key) }
        }
        return true
    }

    func closeAll() {
        let channels = state.withLockedValue { state -> [any Channel] in
            state.closing = true
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }

    func waitUntilClosed() async {
        let channels = state.withLockedValue { Array($0.channels.values) }
        for channel in channels { try? await channel.closeFuture.get() }
    }
}

/// A server connection the listener accepted: its channel, with the pipeline built by
/// ``init(configuring:id:localStatic:crypto:random:limits:logger:inboundBytes:remoteAddress:)``.
struct ServerConnection: Sendable {
    let channel: any Channel
    /// The pipeline's last handler; touched only on the channel's event loop.
    let events: NIOLoopBound<FrameEventChannelHandler>

    /// u16-framed Noise messages, the Noise handler as the responder, and the event handler that
    /// drives the application. Runs on the channel's event loop, inside the bootstrap's initialiser.
    init(
        configuring channel: any Channel, id: ConnectionID, localStatic: X25519KeyPair, crypto: any CryptoProvider,
        random: any RandomSource, limits: ChannelLimits, logger: Logger, inboundBytes: ConnectionInboundBytes, remoteAddress: SourceAddress?
    ) throws {
        let handshake = try HandshakeState(role: .responder, localStatic: localStatic, crypto: crypto, random: random)
        let noise = NoiseChannelHandler(
            handshake: handshake, limits: limits, expectedRemoteStaticKey: nil, eventLoop: channel.eventLoop, logger: logger,
            inboundBytes: inboundBytes)
        let events = FrameEventChannelHandler(
            id: id, remoteAddress: remoteAddress, noise: noise, inboundBytes: inboundBytes, limits: limits, logger: logger)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NoiseMessageDecoder()))
        try channel.pipeline.syncOperations.addHandler(noise)
        try channel.pipeline.syncOperations.addHandler(events)
        self.channel = channel
        self.events = NIOLoopBound(events, eventLoop: channel.eventLoop)
    }
}

/// A thread-safe counter for connection ids.
final class ManagedCounter: Sendable {
    private let value = NIOLockedValueBox<UInt64>(0)

    func next() -> UInt64 {
        value.withLockedValue { current in
            current += 1
            return current
        }
    }
}
