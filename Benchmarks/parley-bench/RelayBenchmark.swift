import Foundation
import Histogram
import Primitives
import Synchronization

/// Benchmark 2: relay throughput. An in-process server (NIO transport + ParleyServer on SQLite in
/// a temporary directory on the real disk) and `RelayLoad` in saturate mode, first in this process
/// (the load shares the 2 cores and the event loops with the server), then from a child process
/// (still the same 2 cores, but the server's own CPU time can be told apart).
struct RelayBenchmark {
    var runs: Int
    var load: RelayLoad
    var dataRoot: String
    var childProcessRuns: Int
    var executable: String

    struct RunResult {
        var outcome: RelayLoad.Outcome
        var window: CountingMailboxStore.Window
        var serverCPUSeconds: Double?
        var clientCPUSeconds: Double?
        var processCPUSeconds: Double?
    }

    struct Summary {
        var inProcess: [RunResult]
        var childProcess: [RunResult]
    }

    func run() async throws -> Summary {
        guard case .saturate(let inFlight) = load.mode else { preconditionFailure("the relay benchmark saturates") }
        Report.heading("2. relay throughput: \(load.pairs) senders -> \(load.pairs) recipients, \(inFlight) sends in flight per sender, "
            + "\(Report.fixed(Measurement.seconds(load.duration), 1)) s after \(Report.fixed(Measurement.seconds(load.warmup), 1)) s warm-up, median of \(runs)")
        emit("database: \(dataRoot) -- \(filesystem(of: dataRoot)); SQLite WAL, synchronous=FULL")
        var inProcess: [RunResult] = []
        for index in 0..<runs {
            let result = try await inProcessRun(index: index)
            inProcess.append(result)
            printRun("in-process run \(index + 1)", result)
        }
        summarise("load generator in the server's process", inProcess)
        var childProcess: [RunResult] = []
        for index in 0..<childProcessRuns {
            let result = try await childProcessRun(index: index)
            childProcess.append(result)
            printRun("child-process run \(index + 1)", result)
        }
        if !childProcess.isEmpty { summarise("load generator in a child process", childProcess) }
        return Summary(inProcess: inProcess, childProcess: childProcess)
    }

    private func inProcessRun(index: Int) async throws -> RunResult {
        let server = try await InProcessServer.start(directoryRoot: dataRoot)
        let window = Shared<(cpu: Double, store: CountingMailboxStore.Window)>((0, .init()))
        var load = self.load
        load.prefix = "p\(index)"
        let mailbox = server.mailbox
        let outcome: RelayLoad.Outcome
        do {
            outcome = try await load.run(port: server.port, serverKey: server.serverKey) { event in
                let cpu = Measurement.processCPUSeconds()
                let store = mailbox.takeWindow()
                window.withLock { window in
                    switch event {
                    case .start: window = (cpu, .init())
                    case .end: window = (cpu - window.cpu, store)
                    }
                }
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        let (cpu, store) = window.withLock { $0 }
        return RunResult(outcome: outcome, window: store, processCPUSeconds: cpu)
    }

    /// The server stays in this process; the load runs as `parley-bench relay-client` in a child,
    /// which prints WINDOW_START, WINDOW_END and a RESULT line.
    private func childProcessRun(index: Int) async throws -> RunResult {
        guard case .saturate(let inFlight) = load.mode else { preconditionFailure() }
        let server = try await InProcessServer.start(directoryRoot: dataRoot)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "relay-client", "--port", "\(server.port)", "--server-key", Hex.encode(server.serverKey.bytes),
            "--pairs", "\(load.pairs)", "--in-flight", "\(inFlight)",
            "--warmup", "\(Measurement.seconds(load.warmup))", "--duration", "\(Measurement.seconds(load.duration))",
            "--prefix", "c\(index)", "--envelopes", "\(load.envelopesPerPair)",
        ]
        let output = Pipe()
        process.standardOutput = output
        do {
            try process.run()
        } catch {
            await server.stop()
            throw error
        }
        let pid = process.processIdentifier
        let mailbox = server.mailbox
        let lines = LineReader(output.fileHandleForReading)
        var serverCPU = 0.0
        var clientCPU = 0.0
        var store = CountingMailboxStore.Window()
        var outcome: RelayLoad.Outcome?
        while let line = await lines.next() {
            switch line {
            case "WINDOW_START":
                serverCPU = Measurement.processCPUSeconds()
                clientCPU = Measurement.cpuSeconds(ofProcess: pid) ?? 0
                _ = mailbox.takeWindow()
            case "WINDOW_END":
                serverCPU = Measurement.processCPUSeconds() - serverCPU
                clientCPU = (Measurement.cpuSeconds(ofProcess: pid) ?? clientCPU) - clientCPU
                store = mailbox.takeWindow()
            default:
                if line.hasPrefix("RESULT ") { outcome = RelayLoad.Outcome(resultLine: line) }
            }
        }
        process.waitUntilExit()
        await server.stop()
        guard process.terminationStatus == 0, let outcome else {
            throw BenchError.unexpected("the relay client process failed (status \(process.terminationStatus))")
        }
        // The child's own account of its CPU time is exact; /proc sampling is the fallback.
        return RunResult(outcome: outcome, window: store, serverCPUSeconds: serverCPU, clientCPUSeconds: outcome.clientCPUSeconds ?? clientCPU)
    }

    private func printRun(_ label: String, _ result: RunResult) {
        let outcome = result.outcome
        var line = "  \(label): \(Report.fixed(outcome.deliveredPerSecond, 0)) delivered/s, \(Report.fixed(outcome.acceptedPerSecond, 0)) accepted/s"
        if outcome.failed > 0 { line += ", \(outcome.failed) failed (first: \(outcome.firstError ?? "?"))" }
        let store = result.window
        if !store.batchSizes.isEmpty {
            let sizes = store.batchSizes.map(Double.init)
            line += "\n    \(store.batchSizes.count) mailbox commits (\(Report.fixed(Double(store.batchSizes.count) / outcome.seconds, 0))/s), "
                + "batch size median \(Report.fixed(Measurement.median(sizes), 0)), mean \(Report.fixed(sizes.reduce(0, +) / Double(sizes.count), 1)), max \(store.batchSizes.max() ?? 0); "
                + "commit time median \(Report.fixed(Measurement.median(store.commitSeconds) * 1e3, 2)) ms, "
                + "total \(Report.fixed(store.commitSeconds.reduce(0, +) / outcome.seconds * 100, 0))% of the window"
        }
        if !store.acknowledgeSeconds.isEmpty {
            line += "; \(store.acknowledgeSeconds.count) ack transactions, median \(Report.fixed(Measurement.median(store.acknowledgeSeconds) * 1e3, 2)) ms, "
                + "total \(Report.fixed(store.acknowledgeSeconds.reduce(0, +) / outcome.seconds * 100, 0))% of the window"
        }
        if store.acknowledgementsFolded > 0 {
            line += "; \(store.acknowledgementsFolded) acknowledgements folded into mailbox commits"
        }
        if let cpu = result.processCPUSeconds {
            line += "\n    process CPU \(Report.fixed(cpu / outcome.seconds * 100, 0))% of one core"
        }
        if let server = result.serverCPUSeconds, let client = result.clientCPUSeconds {
            line += "\n    server CPU \(Report.fixed(server / outcome.seconds * 100, 0))%, client CPU \(Report.fixed(client / outcome.seconds * 100, 0))% of one core"
                + " (server \(Report.fixed(server / Double(max(outcome.delivered, 1)) * 1e6, 1)) us CPU per message)"
        }
        emit(line)
    }

    private func summarise(_ label: String, _ results: [RunResult]) {
        let delivered = Measurement.median(results.map(\.outcome.deliveredPerSecond))
        let accepted = Measurement.median(results.map(\.outcome.acceptedPerSecond))
        let verdict = delivered >= 30_000 ? "met" : "MISSED"
        emit("  => \(label): median \(Report.fixed(delivered, 0)) delivered/s (\(Report.fixed(accepted, 0)) accepted/s); "
            + "ratio to the 30,000/s target \(Report.fixed(delivered / 30_000, 2)) -- \(verdict)")
        let serverCPU = results.compactMap { result in result.serverCPUSeconds.map { $0 / Double(max(result.outcome.delivered, 1)) } }
        if !serverCPU.isEmpty {
            let perMessage = Measurement.median(serverCPU)
            emit("     server CPU per relayed message: median \(Report.fixed(perMessage * 1e6, 1)) us, "
                + "so 2 cores given wholly to the server would bound it at ~\(Report.fixed(2 / perMessage, 0))/s (CPU only; fsync latency aside)")
        }
    }
}

extension RelayLoad.Outcome {
    var resultLine: String {
        "RESULT \(delivered) \(accepted) \(failed) \(seconds) \(clientCPUSeconds ?? 0) \((firstError ?? "-").replacingOccurrences(of: "\n", with: " "))"
    }

    init?(resultLine: String) {
        let fields = resultLine.split(separator: " ", maxSplits: 6).map(String.init)
        guard fields.count >= 6, let delivered = Int(fields[1]), let accepted = Int(fields[2]), let failed = Int(fields[3]),
              let seconds = Double(fields[4]), let cpu = Double(fields[5]) else { return nil }
        self.init(
            delivered: delivered, accepted: accepted, failed: failed, seconds: seconds,
            firstError: fields.count > 6 && fields[6] != "-" ? fields[6] : nil, clientCPUSeconds: cpu)
    }
}

/// Reads lines from a pipe on a thread of its own.
final class LineReader: Sendable {
    private let stream: AsyncStream<String>

    init(_ handle: FileHandle) {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        self.stream = stream
        let descriptor = handle.fileDescriptor
        Thread.detachNewThread {
            guard let file = fdopen(dup(descriptor), "r") else {
                continuation.finish()
                return
            }
            var line: UnsafeMutablePointer<CChar>?
            var capacity = 0
            while getline(&line, &capacity, file) > 0 {
                let text = String(cString: line!).trimmingCharacters(in: .newlines)
                continuation.yield(text)
            }
            free(line)
            fclose(file)
            continuation.finish()
        }
    }

    func next() async -> String? {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }
}
