import Foundation
import PostgresStore
import Primitives
import SodiumCrypto

/// Benchmark `cluster` (issue 12): two `parley-server` nodes on one PostgreSQL on this machine
/// against the single node on SQLite, the same relay load (``RelayLoad``, in this process; every
/// server and PostgreSQL in processes of their own), alternating (SQLite, cluster, SQLite, ...).
///
/// In the cluster, pair i's sender is on node A and its recipient on node B when i is even, the
/// other way round when i is odd: every message is enqueued on one node, committed in PostgreSQL,
/// `pg_notify`'d, and read back and pushed by the other node (the worst case; a deployment whose
/// two parties share a node does less). The nodes share one static key, as a cluster does.
///
/// Reported per run: delivered messages/s; the servers' CPU (utime + stime of the node processes,
/// from /proc) per delivered message; and for the cluster also PostgreSQL's CPU per message (the
/// postmaster and all its children, exited ones included), the statements the nodes sent per
/// message and per transaction (pg_stat_statements; with postgres-nio each statement is one round
/// trip), and the most frequent statements.
struct ClusterBenchmark {
    var runs: Int
    var load: RelayLoad
    var dataRoot: String
    var serverBinary: String

    struct RunResult {
        var outcome: RelayLoad.Outcome
        var serverCPUSeconds: [Double]
        var postgresCPUSeconds: Double?
        var statements: Double?
        var transactions: Double?
        /// Calls and execution milliseconds per statement over the window, most called first.
        var topStatements: [(calls: Double, milliseconds: Double, query: String)] = []
        var cpuPerMessage: Double { serverCPUSeconds.reduce(0, +) / Double(max(outcome.delivered, 1)) * 1e6 }
    }

    func run() async throws {
        guard case .saturate(let inFlight) = load.mode else { preconditionFailure("the cluster benchmark saturates") }
        Report.heading("cluster: 2 parley-server nodes on one PostgreSQL vs 1 node on SQLite: \(load.pairs) pairs (every message crosses nodes), "
            + "\(inFlight) in flight per sender, \(Report.fixed(Measurement.seconds(load.duration), 1)) s after \(Report.fixed(Measurement.seconds(load.warmup), 1)) s warm-up, \(runs) runs each, alternating")
        let postgres = try BenchPostgres.start(in: dataRoot)
        defer { postgres.stop() }
        emit("PostgreSQL: \(postgres.binaries), port \(postgres.port), data in \(postgres.directory) -- \(filesystem(of: postgres.directory)); "
            + "fsync and synchronous_commit on (defaults); SQLite: WAL, synchronous=FULL in \(dataRoot)")
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        var single: [RunResult] = []
        var cluster: [RunResult] = []
        for index in 0..<runs {
            let one = try await measureSingle(index: index, crypto: crypto, random: random)
            single.append(one)
            printRun("sqlite  run \(index + 1)", one)
            let two = try await measureCluster(index: index, postgres: postgres, crypto: crypto, random: random)
            cluster.append(two)
            printRun("cluster run \(index + 1)", two)
        }
        let singleRate = Measurement.median(single.map(\.outcome.deliveredPerSecond))
        let singleCPU = Measurement.median(single.map(\.cpuPerMessage))
        BenchResults.record(ScenarioResult(
            name: "cluster.delivered_per_second", unit: "messages/s", samples: cluster.map(\.outcome.deliveredPerSecond), baseline: singleRate,
            baselineName: "one parley-server on SQLite, same run"))
        BenchResults.record(ScenarioResult(
            name: "cluster.server_cpu_per_message", unit: "us", samples: cluster.map(\.cpuPerMessage), baseline: singleCPU,
            baselineName: "one parley-server on SQLite, same run"))
        BenchResults.record(ScenarioResult(name: "cluster.sqlite.delivered_per_second", unit: "messages/s", samples: single.map(\.outcome.deliveredPerSecond)))
        BenchResults.record(ScenarioResult(name: "cluster.sqlite.server_cpu_per_message", unit: "us", samples: single.map(\.cpuPerMessage)))
        let postgresCPU = cluster.compactMap { run in run.postgresCPUSeconds.map { $0 / Double(max(run.outcome.delivered, 1)) * 1e6 } }
        if !postgresCPU.isEmpty {
            BenchResults.record(ScenarioResult(name: "cluster.postgres_cpu_per_message", unit: "us", samples: postgresCPU))
        }
        let statements = cluster.compactMap { run in run.statements.map { $0 / Double(max(run.outcome.delivered, 1)) } }
        if !statements.isEmpty {
            BenchResults.record(ScenarioResult(name: "cluster.statements_per_message", unit: "statements", samples: statements))
        }
        let transactions = cluster.compactMap { run in run.transactions.map { $0 / Double(max(run.outcome.delivered, 1)) } }
        if !transactions.isEmpty {
            BenchResults.record(ScenarioResult(name: "cluster.transactions_per_message", unit: "transactions", samples: transactions))
        }
        emit("  => cluster: \(Report.fixed(Measurement.median(cluster.map(\.outcome.deliveredPerSecond)), 0)) delivered/s "
            + "(SQLite node \(Report.fixed(singleRate, 0))); server CPU \(Report.fixed(Measurement.median(cluster.map(\.cpuPerMessage)), 1)) us per message "
            + "(SQLite node \(Report.fixed(singleCPU, 1))); PostgreSQL CPU \(postgresCPU.isEmpty ? "?" : Report.fixed(Measurement.median(postgresCPU), 1)) us per message")
        if let last = cluster.last, last.outcome.delivered > 0 {
            emit("  most frequent statements in the last cluster run's window (calls per delivered message):")
            let delivered = Double(last.outcome.delivered)
            let executing = last.topStatements.map(\.milliseconds).reduce(0, +)
            emit("    (PostgreSQL executed statements for \(Report.fixed(executing * 1e3 / delivered, 1)) us per message in all; columns: calls and execution us per message)")
            for (calls, milliseconds, query) in last.topStatements.prefix(14) {
                emit("    \(Report.padLeft(Report.fixed(calls / delivered, 3), 7)) \(Report.padLeft(Report.fixed(milliseconds * 1e3 / delivered, 2), 8))  \(query)")
            }
        }
    }

    private func measureSingle(index: Int, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> RunResult {
        let run = try await ServerProcessRun(binary: serverBinary, load: load, dataRoot: dataRoot, prefix: "s\(index)").run(crypto: crypto, random: random)
        return RunResult(outcome: run.outcome, serverCPUSeconds: [run.serverCPUSeconds])
    }

    private func measureCluster(index: Int, postgres: BenchPostgres, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> RunResult {
        var load = self.load
        load.prefix = "k\(index)"
        load.logIn = true
        let pairs = try load.makePairs(crypto: crypto, random: random)
        load.preparedPairs = pairs
        let database = "bench_\(index)"
        try postgres.psql("CREATE DATABASE \(database)")
        let url = postgres.url(database: database)
        do {
            let store = try PostgresServerStore(url: url, nodeID: "bench-setup")
            defer { store.close() }
            try createRelayAccounts(pairs.flatMap { [$0.sender, $0.recipient] }, in: store.accounts, crypto: crypto)
        }
        let directoryA = try makeTemporaryDirectory(in: dataRoot)
        let directoryB = try makeTemporaryDirectory(in: dataRoot)
        defer {
            try? FileManager.default.removeItem(atPath: directoryA)
            try? FileManager.default.removeItem(atPath: directoryB)
        }
        let nodeA = try await startServerProcess(binary: serverBinary, directory: directoryA, extraArguments: ["--database", "\(url)", "--node-id", "node-a"])
        defer { nodeA.terminate() }
        // One cluster, one static key: node B gets node A's key file.
        try FileManager.default.copyItem(atPath: directoryA + "/server-static-key", toPath: directoryB + "/server-static-key")
        let nodeB = try await startServerProcess(binary: serverBinary, directory: directoryB, extraArguments: ["--database", "\(url)", "--node-id", "node-b"])
        defer { nodeB.terminate() }
        let (portA, key) = (nodeA.port, nodeA.key)
        guard key == nodeB.key else { throw BenchError.setup("the two nodes have different keys") }
        load.otherNodePort = nodeB.port

        struct Window: Sendable {
            var cpu: [Double] = [0, 0]
            var postgres = 0.0
            var statements: [String: (calls: Double, milliseconds: Double, query: String)] = [:]
            var transactions = 0.0
            var statementsEnd: [String: (calls: Double, milliseconds: Double, query: String)] = [:]
            var transactionsEnd = 0.0
        }
        let pids = [nodeA.pid, nodeB.pid]
        let window = Shared(Window())
        // Blocking (psql takes some 50 ms): at the start it delays one load task a little; at the
        // end nothing, since the load stops after this callback.
        @Sendable func snapshot() -> ([String: (calls: Double, milliseconds: Double, query: String)], Double) {
            let read = Result {
                try postgres.psql(
                    "SELECT queryid, calls, total_exec_time, regexp_replace(left(query, 110), '\\s+', ' ', 'g') FROM pg_stat_statements "
                        + "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '\(database)')")
            }
            var statements = ""
            switch read {
            case .success(let text): statements = text
            case .failure(let error): emit("  (pg_stat_statements could not be read: \(error))")
            }
            var byID: [String: (calls: Double, milliseconds: Double, query: String)] = [:]
            for line in statements.split(separator: "\n") {
                let parts = line.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count == 4, let calls = Double(parts[1]), let milliseconds = Double(parts[2]) else { continue }
                byID[String(parts[0])] = (calls, milliseconds, String(parts[3]))
            }
            let commits = (try? postgres.psql("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '\(database)'"))
                .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            return (byID, commits)
        }
        let outcome = try await load.run(port: portA, serverKey: key) { event in
            let cpu = pids.map { Measurement.cpuSeconds(ofProcess: $0) ?? 0 }
            let postgresCPU = postgres.cpuSeconds()
            switch event {
            case .start:
                let (statements, transactions) = snapshot()
                window.withLock { window in
                    window.cpu = cpu
                    window.postgres = postgresCPU
                    window.statements = statements
                    window.transactions = transactions
                }
            case .end:
                window.withLock { window in
                    window.cpu = zip(cpu, window.cpu).map { $0 - $1 }
                    window.postgres = postgresCPU - window.postgres
                }
                let (statements, transactions) = snapshot()
                window.withLock { window in
                    window.statementsEnd = statements
                    window.transactionsEnd = transactions
                }
            }
        }
        let measured = window.withLock { $0 }
        var deltas: [(calls: Double, milliseconds: Double, query: String)] = []
        for (id, end) in measured.statementsEnd {
            let calls = end.calls - (measured.statements[id]?.calls ?? 0)
            let milliseconds = end.milliseconds - (measured.statements[id]?.milliseconds ?? 0)
            if calls > 0 { deltas.append((calls, milliseconds, end.query)) }
        }
        deltas.sort { $0.calls > $1.calls }
        let statements = deltas.map(\.calls).reduce(0, +)
        return RunResult(
            outcome: outcome, serverCPUSeconds: measured.cpu, postgresCPUSeconds: measured.postgres,
            statements: statements > 0 ? statements : nil,
            transactions: measured.transactionsEnd > 0 ? measured.transactionsEnd - measured.transactions : nil, topStatements: deltas)
    }

    private func printRun(_ label: String, _ result: RunResult) {
        let delivered = Double(max(result.outcome.delivered, 1))
        var line = "  \(label): \(Report.fixed(result.outcome.deliveredPerSecond, 0)) delivered/s, server CPU \(Report.fixed(result.cpuPerMessage, 1)) us per message"
        if result.serverCPUSeconds.count == 2 {
            line += " (node A \(Report.fixed(result.serverCPUSeconds[0] / delivered * 1e6, 1)), node B \(Report.fixed(result.serverCPUSeconds[1] / delivered * 1e6, 1)))"
        }
        if let postgres = result.postgresCPUSeconds {
            line += ", PostgreSQL CPU \(Report.fixed(postgres / delivered * 1e6, 1)) us per message"
        }
        if let statements = result.statements {
            line += ", \(Report.fixed(statements / delivered, 2)) statements"
        }
        if let transactions = result.transactions {
            line += " and \(Report.fixed(transactions / delivered, 3)) transactions per message"
        }
        if result.outcome.failed > 0 { line += ", \(result.outcome.failed) failed (first: \(result.outcome.firstError ?? "?"))" }
        emit(line)
    }
}
