import Foundation
import Primitives
import SodiumCrypto

#if canImport(Glibc)
import Glibc
#endif

/// One relay load (``RelayLoad``, in this process) against one `parley-server` child process on
/// SQLite, as relay-process, latency (at half the maximum) and cluster (its single node) run it:
/// the load's pairs are made, their accounts created in a fresh data directory under `dataRoot`
/// (``populateRelayAccounts(_:directory:crypto:)``), the server started there
/// (``startServerProcess(binary:directory:extraArguments:)``), the load run, and the server's CPU
/// time (utime + stime from /proc) taken over the measured window. The server is stopped with
/// SIGTERM (and waited for) and the directory removed before ``run(crypto:random:)`` returns.
///
/// With ``recordCommitTimes`` the server runs with `--commit-times-file` and the result carries its
/// mailbox commits that started inside the window.
struct ServerProcessRun {
    var binary: String
    var load: RelayLoad
    var dataRoot: String
    /// Distinguishes account names between runs.
    var prefix: String
    var recordCommitTimes = false

    struct Result {
        var outcome: RelayLoad.Outcome
        var serverCPUSeconds: Double
        /// The server's commits inside the window (``recordCommitTimes``); nil if not recorded or
        /// not written (the server did not stop cleanly).
        var commits: [CommitTime]?
        var serverCPUPerMessage: Double { serverCPUSeconds / Double(max(outcome.delivered, 1)) }
    }

    func run(crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> Result {
        var load = self.load
        load.prefix = prefix
        load.logIn = true
        let pairs = try load.makePairs(crypto: crypto, random: random)
        load.preparedPairs = pairs
        let directory = try makeTemporaryDirectory(in: dataRoot)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try populateRelayAccounts(pairs.flatMap { [$0.sender, $0.recipient] }, directory: directory, crypto: crypto)
        let commitFile = directory + "/commit-times"
        let server = try await startServerProcess(
            binary: binary, directory: directory, extraArguments: recordCommitTimes ? ["--commit-times-file", commitFile] : [])
        defer { server.terminate() }
        let pid = server.pid
        struct Window: Sendable {
            var startCPU = 0.0
            var cpu = 0.0
            var startNanoseconds: UInt64 = 0
            var endNanoseconds: UInt64 = 0
        }
        let window = Shared(Window())
        let outcome = try await load.run(port: server.port, serverKey: server.key) { event in
            let now = Measurement.cpuSeconds(ofProcess: pid) ?? 0
            let instant = CommitTime.now()
            window.withLock { window in
                switch event {
                case .start:
                    window.startCPU = now
                    window.startNanoseconds = instant
                case .end:
                    window.cpu = now - window.startCPU
                    window.endNanoseconds = instant
                }
            }
        }
        let measured = window.withLock { $0 }
        var commits: [CommitTime]?
        if recordCommitTimes {
            server.terminate()
            commits = CommitTime.read(commitFile)?.filter { $0.startNanoseconds >= measured.startNanoseconds && $0.startNanoseconds < measured.endNanoseconds }
        }
        return Result(outcome: outcome, serverCPUSeconds: measured.cpu, commits: commits)
    }
}

/// One mailbox commit as `parley-server --commit-times-file` records it (CommitTimesRecorder in
/// Sources/parley-server): when it started (CLOCK_MONOTONIC, shared by every process here), how
/// long it took, and how many envelopes and acknowledgements it carried.
struct CommitTime: Sendable {
    var startNanoseconds: UInt64
    var durationNanoseconds: UInt64
    var envelopes: Int
    var acknowledgements: Int

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// The commits in `path`, or nil when it is missing or not version 1 of the format.
    static func read(_ path: String) -> [CommitTime]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasPrefix("# parley-server commit times v1:") else { return nil }
        var commits: [CommitTime] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let start = UInt64(fields[0]), let duration = UInt64(fields[1]),
                  let envelopes = Int(fields[2]), let acknowledgements = Int(fields[3]) else { continue }
            commits.append(CommitTime(startNanoseconds: start, durationNanoseconds: duration, envelopes: envelopes, acknowledgements: acknowledgements))
        }
        return commits
    }
}

/// Starts `binary` on `directory` and waits until it listens; tries again (up to three times) when
/// it exits at start-up: the port is picked free, released and handed to the server, and another
/// process on this shared machine can take it in between.
func startServerProcess(binary: String, directory: String, extraArguments: [String] = []) async throws -> ServerProcess {
    var attempt = 1
    while true {
        let server = try ServerProcess(binary: binary, dataDirectory: directory, extraArguments: extraArguments)
        do {
            _ = try await server.listening()
            return server
        } catch {
            server.terminate()
            guard attempt < 3 else { throw error }
            emit("  (the server did not start: \(error); trying again)")
            attempt += 1
        }
    }
}
