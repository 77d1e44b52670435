import Logging
import NIOCore
import NIOPosix
import Primitives
import SecureChannel

/// Parley's client transport: connects over TCP with SwiftNIO and runs Noise XX as the initiator.
///
/// The connection is scoped: ``withConnection(host:port:expectedServerKey:_:)`` connects,
/// authenticates, runs the body with the connection, and closes it when the body returns or
/// throws, so no socket outlives its use (the pattern NIO recommends for async channels).
///
/// Server identity: the authenticated server key is ``FrameConnection/remoteStaticKey``. Pinning
/// policy belongs to the client application; the transport only offers `expectedServerKey`, which
/// aborts the handshake *before the client sends its own static key* when the server proves a
/// different one.
public struct NIOClientTransport: Sendable {
    private let localStatic: X25519KeyPair
    private let crypto: any CryptoProvider
    private let random: any RandomSource
    private let limits: ChannelLimits
    private let group: any EventLoopGroup
    private let logger: Logger
    private let nextID = ManagedCounter()

    /// - Parameters:
    ///   - localStatic: this client's static X25519 key pair (the server learns its public half).
    ///   - crypto: the crypto port.
    ///   - random: the source of ephemeral keys.
    ///   - limits: timeouts and sizes; `handshakeTimeout` also bounds the TCP connect.
    ///   - group: the event loops to run on; defaults to NIO's shared singleton group.
    ///   - logger: connection-level events (never key material).
    public init(
        localStatic: X25519KeyPair,
        crypto: any CryptoProvider,
        random: any RandomSource,
        limits: ChannelLimits = ChannelLimits(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "parley.transport.client")
    ) {
        self.localStatic = localStatic
        self.crypto = crypto
        self.random = random
        self.limits = limits
        self.group = group
        self.logger = logger
    }

    /// Connects to `host:port`, completes the handshake, and runs `body` with the authenticated
    /// connection and its inbound frames. The connection is closed when `body` returns or throws.
    ///
    /// - Parameters:
    ///   - expectedServerKey: when set, the handshake is aborted unless the server proves this key.
    /// - Throws: ``ConnectionError/connectFailed(host:port:reason:)``,
    ///   ``ConnectionError/handshakeFailed(_:)``, ``ConnectionError/handshakeTimedOut``,
    ///   ``ConnectionError/serverKeyMismatch(expected:received:)`` (both keys in hex),
    ///   ``ConnectionError/closed`` when the server hangs up during the handshake; and whatever
    ///   `body` throws.
    public func withConnection<Result: Sendable>(
        host: String,
        port: Int,
        expectedServerKey: X25519PublicKey? = nil,
        _ body: (any FrameConnection, InboundFrames) async throws -> Result
    ) async throws -> Result {
        let id = ConnectionID(rawValue: nextID.next())
        var connectionLogger = logger
        connectionLogger[metadataKey: "connection"] = "\(id)"
        let (localStatic, crypto, random, limits) = (self.localStatic, self.crypto, self.random, self.limits)
        let loggerForChannel = connectionLogger
        let connected: AcceptedConnection
        do {
            connected = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(limits.handshakeTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.writeBufferWaterMark, value: .init(low: limits.outboundLowWaterMark, high: limits.outboundHighWaterMark))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try AcceptedConnection(
                            configuring: channel, id: id, role: .initiator, localStatic: localStatic,
                            expectedRemoteStaticKey: expectedServerKey, crypto: crypto, random: random,
                            limits: limits, logger: loggerForChannel)
                    }
                }
        } catch {
            throw ConnectionError.connectFailed(host: host, port: port, reason: "\(error)")
        }

        let channel = connected.channel.channel
        let outcome: HandshakeOutcome
        do {
            outcome = try await withTaskCancellationHandler {
                try await connected.handshake.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            try? await connected.channel.executeThenClose { _, _ in }
            throw ConnectionError.translating(error)
        }

        return try await connected.channel.executeThenClose { inbound, _ in
            let connection = NIOFrameConnection(
                id: id, remoteStaticKey: outcome.remoteStaticKey, handshakeHash: outcome.handshakeHash,
                maxFrameBytes: limits.maxFrameBytes, channel: channel, remoteAddress: SourceAddress(channel.remoteAddress))
            return try await body(connection, InboundFrames(inbound))
        }
    }
}

/// A client connection: the async channel, and the handshake it is still running.
struct AcceptedConnection: Sendable {
    let id: ConnectionID
    let channel: NIOAsyncChannel<[UInt8], [UInt8]>
    let handshake: EventLoopFuture<HandshakeOutcome>
    let maxFrameBytes: Int

    /// Builds the connection's pipeline: u16-framed Noise messages, the Noise handler in `role`,
    /// and the back-pressured async wrapper. Runs on the channel's event
    /// loop, inside the bootstrap's initialiser.
    init(
        configuring channel: any Channel, id: ConnectionID, role: HandshakeState.Role, localStatic: X25519KeyPair,
        expectedRemoteStaticKey: X25519PublicKey?, crypto: any CryptoProvider, random: any RandomSource,
        limits: ChannelLimits, logger: Logger
    ) throws {
        let handshake = try HandshakeState(role: role, localStatic: localStatic, crypto: crypto, random: random)
        let noise = NoiseChannelHandler(
            handshake: handshake, limits: limits, expectedRemoteStaticKey: expectedRemoteStaticKey,
            eventLoop: channel.eventLoop, logger: logger)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(NoiseMessageDecoder()))
        try channel.pipeline.syncOperations.addHandler(noise)
        self.channel = try NIOAsyncChannel<[UInt8], [UInt8]>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: limits.inboundFrameBuffer)))
        self.id = id
        self.handshake = noise.handshakeFuture
        maxFrameBytes = limits.maxFrameBytes
    }
}
