import Primitives
import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's listeners: the Unix socket (mode 0600 in a 0700 folder) and, if asked, one
/// loopback TCP port whose clients must send the token first. JSON-RPC 2.0, one JSON object per
/// line, several clients at once, each isolated from the others.
final class RPCServer: Sendable {
    /// The longest request line read (a request is small: images are sent by path).
    static let maxLineBytes = 1 << 20

    private let group: MultiThreadedEventLoopGroup
    private let channels: [any Channel]

    private init(group: MultiThreadedEventLoopGroup, channels: [any Channel]) {
        self.group = group
        self.channels = channels
    }

    /// Binds the Unix socket at `path` (created 0600: the umask is tightened around the bind)
    /// and, when `tcp` is given, a loopback TCP listener that wants `token`.
    static func start(state: DaemonState, path: String, tcp: (host: String, port: Int, token: String)?) async throws -> RPCServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        func bootstrap(token: String?) -> ServerBootstrap {
            ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(low: state.subscriberBufferBytes / 2, high: state.subscriberBufferBytes))
                .childChannelInitializer { channel in
                    let connection = RPCConnection(channel: channel, state: state, token: token)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RPCLineHandler(connection: connection))
                    }
                }
        }
        var channels: [any Channel] = []
        do {
            let previous = umask(0o177)
            defer { umask(previous) }
            channels.append(try await bootstrap(token: nil).bind(unixDomainSocketPath: path).get())
        }
        guard chmod(path, 0o600) == 0 else { throw CLIError.local("cannot make \(path) private") }
        if let tcp {
            channels.append(try await bootstrap(token: tcp.token).bind(host: tcp.host, port: tcp.port).get())
        }
        return RPCServer(group: group, channels: channels)
    }

    /// The TCP port actually bound (when `--tcp` asked for port 0).
    var tcpPort: Int? { channels.dropFirst().first?.localAddress?.port }
}

/// Cuts a connection's bytes into request lines, refusing a line longer than the limit and a
/// client that queues too many requests; hands each line, in order, to its ``RPCConnection``.
final class RPCLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connection: RPCConnection
    private let lines: AsyncStream<[UInt8]>.Continuation
    /// Requests read but not yet answered (shared with the task that answers them).
    private let waiting = WaitingCount()
    private var pending: [UInt8] = []
    private var refused = false

    init(connection: RPCConnection) {
        self.connection = connection
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        lines = continuation
        let waiting = waiting
        Task {
            for await line in stream {
                await connection.handle(line)
                waiting.count.withLock { $0 -= 1 }
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        var buffer = unwrapInboundIn(data)
        guard let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
        var start = 0
        for index in bytes.indices where bytes[index] == 0x0A {
            var line = pending
            line.append(contentsOf: bytes[start..<index])
            pending = []
            start = index + 1
            if line.last == 0x0D { line.removeLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let queued = waiting.count.withLock { count -> Int in
                count += 1
                return count
            }
            guard queued <= RPCConnection.maxQueuedRequests else {
                refuse { await $0.refuseFlood() }
                return
            }
            lines.yield(line)
        }
        pending.append(contentsOf: bytes[start...])
        if pending.count > RPCServer.maxLineBytes {
            pending = []
            refuse { await $0.refuseOverlongLine(limit: RPCServer.maxLineBytes) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        lines.finish()
        let connection = connection
        Task { await connection.closedByPeer() }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writability.fire()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refuse(_ body: @escaping @Sendable (RPCConnection) async -> Void) {
        refused = true
        lines.finish()
        let connection = connection
        Task { await body(connection) }
    }
}

/// A count shared between the event loop and the task answering requests.
final class WaitingCount: Sendable {
    let count = LockedValue(0)
}
