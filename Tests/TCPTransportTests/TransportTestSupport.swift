import Foundation
import Logging
import NIOCore
import NIOPosix
import Primitives
import SecureChannel
import SodiumCrypto
import TCPTransport

/// Ports and helpers shared by the loopback tests. Everything binds 127.0.0.1 on port 0 and every
/// wait is bounded.
struct TransportEnvironment {
    let crypto: SodiumCryptoProvider
    let random: SodiumRandomSource

    init() throws {
        crypto = try SodiumCryptoProvider()
        random = try SodiumRandomSource()
    }

    func keyPair() throws -> X25519KeyPair {
        try crypto.generateX25519KeyPair(using: random)
    }

    func client(limits: ChannelLimits = ChannelLimits(), keys: X25519KeyPair? = nil) throws -> NIOClientTransport {
        NIOClientTransport(localStatic: try keys ?? keyPair(), crypto: crypto, random: random, limits: limits, logger: Logger(label: "test.client"))
    }

    /// Binds a server, runs `body` while it serves, then shuts it down.
    func withServer<Result: Sendable>(
        limits: ChannelLimits = ChannelLimits(),
        keys: X25519KeyPair? = nil,
        handler: some FrameConnectionHandler = EchoHandler(),
        _ body: (NIOServerTransport) async throws -> Result
    ) async throws -> Result {
        // These handlers have no login: the transport's pre-login frame limit is the server
        // application's business (and tested with it), so it is lifted here unless a test sets one.
        var limits = limits
        if limits.preLoginMaxFrameBytes == ChannelLimits.preLoginMaxFrameBytes { limits.preLoginMaxFrameBytes = limits.maxFrameBytes }
        let server = try await NIOServerTransport.bind(
            host: "127.0.0.1", port: 0, localStatic: try keys ?? keyPair(), crypto: crypto, random: random,
            limits: limits, logger: Logger(label: "test.server"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve(handler) }
            defer { group.cancelAll() }
            return try await body(server)
        }
    }
}

/// Echoes every frame back and remembers the client keys it saw.
struct EchoHandler: FrameConnectionHandler {
    let recorder = Recorder()

    func serve(_ connection: any FrameConnection, inbound: InboundFrames) async {
        recorder.record(connection.remoteStaticKey)
        do {
            for try await frame in inbound {
                try await connection.send(frame)
            }
        } catch {
            recorder.record(error)
        }
    }
}

final class Recorder: Sendable {
    private let keys = LockedValue<[X25519PublicKey]>([])
    private let errors = LockedValue<[any Error]>([])

    func record(_ key: X25519PublicKey) { keys.withLock { $0.append(key) } }
    func record(_ error: any Error) { errors.withLock { $0.append(error) } }
    var seenKeys: [X25519PublicKey] { keys.withLock { $0 } }
    var seenErrors: [String] { errors.withLock { $0.map { "\($0)" } } }
}

/// 10 under the sanitizers (`make asan`/`make tsan` set `PARLEY_SANITIZER`), else 1: the factor
/// by which these tests' upper time bounds (how long a close or a timeout may take at most) are
/// stretched. Under ThreadSanitizer on the loaded 2-core machine a 300 ms idle timeout took over
/// 5 s to close the connection. Lower bounds (nothing fires before its configured time) are never
/// scaled.
let sanitizerSlowdown = ProcessInfo.processInfo.environment["PARLEY_SANITIZER"] == nil ? 1 : 10

struct TimedOut: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "timed out after \(seconds) s" }
}

/// Runs `body`, failing with ``TimedOut`` if it takes longer than `seconds`.
func withTimeout<Result: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
    try await withThrowingTaskGroup(of: Result.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TimedOut(seconds: seconds)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw TimedOut(seconds: seconds) }
        return first
    }
}

/// A plain TCP client that speaks no Noise at all: for garbage, silence and connection counting.
struct RawConnection: Sendable {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func connect(port: Int) async throws -> RawConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawConnection(channel: channel)
    }

    /// Sends `bytes` (if any), then waits until the server closes the connection, returning how
    /// long that took and how many bytes arrived meanwhile. Gives up after `seconds` (times
    /// ``sanitizerSlowdown``).
    func sendThenAwaitClose(_ bytes: [UInt8] = [], within seconds: Double) async throws -> (elapsed: Duration, received: Int) {
        let clock = ContinuousClock()
        let start = clock.now
        let received = try await withTimeout(seconds * Double(sanitizerSlowdown)) {
            try await channel.executeThenClose { inbound, outbound in
                if !bytes.isEmpty { try await outbound.write(ByteBuffer(bytes: bytes)) }
                var count = 0
                do {
                    for try await buffer in inbound { count += buffer.readableBytes }
                } catch {
                    // A reset counts as closed too.
                }
                return count
            }
        }
        return (clock.now - start, received)
    }
}

extension Duration {
    var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// A TCP listener that accepts connections and never answers.
struct RawListener: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }

    static func start() async throws -> RawListener {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RawListener(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}
