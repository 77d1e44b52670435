import Foundation
import Logging
import Primitives
import SecureChannel
import SodiumCrypto
import TCPTransport

/// Benchmark 5 (`idle-transport`): what an idle authenticated transport connection costs, with no
/// application on top. `count` Noise connections over loopback between an `NIOServerTransport`
/// and an `NIOClientTransport` in this process, each having echoed one frame and then left idle;
/// reported: this process's VmRSS before and while they are open, and the bytes per
/// client + server pair. (Moved here from `TCPTransportTests`, where it read whole-process RSS
/// while other suites ran and could not fail usefully: it is a measurement, not a test.)
/// Benchmark 4 (`idle`) measures the whole server, logged-in sessions included, in a child process.
struct TransportIdleBenchmark {
    var count: Int
    var warmup = 20
    var settle: Duration = .seconds(1)

    struct Result {
        let count: Int
        let residentBefore: Int
        let residentWhileOpen: Int
        var bytesPerPair: Double { Double(residentWhileOpen - residentBefore) / Double(max(count, 1)) }
    }

    func run() async throws -> Result {
        Report.heading("5. idle transport connections: \(count) authenticated Noise connections, both ends in this process")
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let logger = Logger(label: "bench.transport")
        let server = try await NIOServerTransport.bind(
            host: "127.0.0.1", port: 0, localStatic: try crypto.generateX25519KeyPair(using: random), crypto: crypto, random: random,
            limits: ChannelLimits(maxConnections: max(1000, count + warmup), maxConnectionsPerAddress: max(1000, count + warmup)), logger: logger)
        let client = NIOClientTransport(
            localStatic: try crypto.generateX25519KeyPair(using: random), crypto: crypto, random: random, limits: ChannelLimits(), logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { serving in
            serving.addTask { try await server.serve(EchoOnce()) }
            defer { serving.cancelAll() }
            try await Self.hold(warmup, client: client, port: server.localPort, settle: settle) {}
            let pid = getpid()
            let before = Measurement.residentBytes(ofProcess: pid) ?? 0
            var during = before
            try await Self.hold(count, client: client, port: server.localPort, settle: settle) {
                during = Measurement.residentBytes(ofProcess: pid) ?? before
            }
            let result = Result(count: count, residentBefore: before, residentWhileOpen: during)
            emit("VmRSS before: \(Report.bytes(before)); with \(count) idle connections open: \(Report.bytes(during))")
            emit("per client+server pair: \(Report.bytes(Int(result.bytesPerPair))) (target: under 16 KiB per side)")
            return result
        }
    }

    /// Opens `count` connections, each echoing one frame, runs `measure` once all are open and
    /// have been idle for `settle`, then closes them.
    private static func hold(_ count: Int, client: NIOClientTransport, port: Int, settle: Duration, measure: () -> Void) async throws {
        let opened = Counter()
        let release = Gate()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<count {
                group.addTask {
                    try await client.withConnection(host: "127.0.0.1", port: port) { connection, inbound in
                        try await connection.send([1])
                        var iterator = inbound.makeAsyncIterator()
                        _ = try await iterator.next()
                        opened.add()
                        await release.wait()
                    }
                }
            }
            while opened.current < count { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: settle)
            measure()
            release.open()
            try await group.waitForAll()
        }
    }
}

/// Echoes frames back until the client closes.
private struct EchoOnce: FrameConnectionHandler {
    func serve(_ connection: any FrameConnection, inbound: InboundFrames) async {
        do {
            for try await frame in inbound { try await connection.send(frame) }
        } catch {
            // The benchmark closed the connection.
        }
    }
}
