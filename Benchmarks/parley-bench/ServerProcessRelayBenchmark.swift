import Accounts
import Foundation
import Primitives
import SQLiteStore
import SodiumCrypto
import SystemClock

/// Benchmark 6 (`relay-process`): relay throughput and server CPU per relayed message with the
/// real `parley-server` binary as a child process and the load generator (``RelayLoad``) in this
/// one, so the server's CPU is its own process's utime + stime (from `/proc/PID/stat`) and nothing
/// else. With `--baseline-server PATH` the baseline binary and the current one run alternately
/// (baseline, current, baseline, current, ...), each on a fresh data directory, so a change is
/// measured against its baseline under the same load from the other builders on the machine.
struct ServerProcessRelayBenchmark {
    var runs: Int
    var load: RelayLoad
    var dataRoot: String
    var serverBinary: String
    var baselineBinary: String?
    /// The raw NIO relay's frames/s measured earlier in this run, for the ratio.
    var rawRelayRate: Double?

    typealias RunResult = ServerProcessRun.Result

    /// Returns the current binary's median delivered messages/s (the maximum the latency scenario
    /// takes half of).
    @discardableResult
    func run() async throws -> Double {
        guard case .saturate(let inFlight) = load.mode else { preconditionFailure("the relay benchmark saturates") }
        Report.heading("6. relay throughput, parley-server as a child process: \(load.pairs) senders -> \(load.pairs) recipients, "
            + "\(inFlight) in flight per sender, \(Report.fixed(Measurement.seconds(load.duration), 1)) s after \(Report.fixed(Measurement.seconds(load.warmup), 1)) s warm-up, \(runs) runs"
            + (baselineBinary == nil ? "" : ", interleaved with the baseline binary"))
        emit("server: \(serverBinary)" + (baselineBinary.map { "; baseline: \($0)" } ?? ""))
        emit("database: \(dataRoot) -- \(filesystem(of: dataRoot)); SQLite WAL, synchronous=FULL; load generator in this process")
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        var current: [RunResult] = []
        var baseline: [RunResult] = []
        for index in 0..<runs {
            if let baselineBinary {
                let result = try await measure(binary: baselineBinary, index: index, label: "b", crypto: crypto, random: random)
                baseline.append(result)
                printRun("baseline run \(index + 1)", result)
            }
            let result = try await measure(binary: serverBinary, index: index, label: "c", crypto: crypto, random: random)
            current.append(result)
            printRun("current run \(index + 1)", result)
        }
        let rate = current.map(\.outcome.deliveredPerSecond)
        let cpu = current.map { $0.serverCPUPerMessage * 1e6 }
        let baseRate = baseline.isEmpty ? nil : Measurement.median(baseline.map(\.outcome.deliveredPerSecond))
        let baseCPU = baseline.isEmpty ? nil : Measurement.median(baseline.map { $0.serverCPUPerMessage * 1e6 })
        emit("  => current: median \(Report.fixed(Measurement.median(rate), 0)) delivered/s, server CPU \(Report.fixed(Measurement.median(cpu), 1)) us per message"
            + (baseRate.map { " (baseline \(Report.fixed($0, 0)) delivered/s, \(Report.fixed(baseCPU ?? 0, 1)) us)" } ?? ""))
        BenchResults.record(ScenarioResult(
            name: "relay-process.delivered_per_second", unit: "messages/s", samples: rate, baseline: baseRate,
            baselineName: "baseline parley-server, same run", target: ">= 30000"))
        if let rawRelayRate {
            let ratio = Measurement.median(rate) / rawRelayRate
            emit("     ratio to the raw NIO relay in this run (\(Report.fixed(rawRelayRate, 0)) frames/s): \(Report.fixed(ratio, 3)) (target >= 0.15)")
            BenchResults.record(ScenarioResult(
                name: "relay-process.delivered_vs_raw_relay", unit: "messages/s", samples: rate, baseline: rawRelayRate,
                baselineName: "raw NIO relay, same run", target: "ratio >= 0.15"))
        }
        BenchResults.record(ScenarioResult(
            name: "relay-process.server_cpu_per_message", unit: "us", samples: cpu, baseline: baseCPU,
            baselineName: "baseline parley-server, same run", target: "<= 30"))
        return Measurement.median(rate)
    }

    private func measure(binary: String, index: Int, label: String, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> RunResult {
        try await ServerProcessRun(binary: binary, load: load, dataRoot: dataRoot, prefix: "\(label)\(index)").run(crypto: crypto, random: random)
    }

    private func printRun(_ label: String, _ result: RunResult) {
        var line = "  \(label): \(Report.fixed(result.outcome.deliveredPerSecond, 0)) delivered/s, "
            + "server CPU \(Report.fixed(result.serverCPUSeconds / result.outcome.seconds * 100, 0))% of one core, "
            + "\(Report.fixed(result.serverCPUPerMessage * 1e6, 1)) us per message"
        if result.outcome.failed > 0 { line += ", \(result.outcome.failed) failed (first: \(result.outcome.firstError ?? "?"))" }
        emit(line)
    }
}

/// Creates `users` as accounts in a fresh server database in `directory`, with their identity keys
/// and password hashes at Argon2id's minimum cost, so that a `parley-server` started on it (with
/// `--insecure-password-cost-for-benchmarks minimum`) logs them in quickly.
func populateRelayAccounts(_ users: [BenchUser], directory: String, crypto: any CryptoProvider) throws {
    let store = try SQLiteServerStore(dataDirectory: directory)
    defer { store.close() }
    try createRelayAccounts(users, in: store.accounts, crypto: crypto)
}

/// Creates `users` as accounts in `accounts` (any server store: SQLite, PostgreSQL), as
/// ``populateRelayAccounts(_:directory:crypto:)`` does.
func createRelayAccounts(_ users: [BenchUser], in accounts: any AccountStore, crypto: any CryptoProvider) throws {
    let hasher = Argon2idPasswordHasher(crypto: crypto, cost: .minimum)
    let now = SystemWallClock().now()
    for user in users {
        try accounts.create(AccountRecord(
            username: user.name, passwordHash: try hasher.hash(user.password), identityKey: user.identity.publicKey,
            identitySignature: user.identitySignature, createdAt: now))
    }
}
