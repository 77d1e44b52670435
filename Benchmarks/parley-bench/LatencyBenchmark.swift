import Foundation
import Histogram
import SodiumCrypto

/// Benchmark 3: send->push latency over loopback, per message, in open-loop paced mode:
///
/// - idle (one pair, one message at a time) and moderate (`moderateRate` messages per second spread
///   over several pairs), against the same in-process server as benchmark 2;
/// - at half of the maximum (issue 11's target), against the real `parley-server` as a child
///   process (the load generator in this one, as in relay-process): the maximum is relay-process's
///   median delivered/s from earlier in the same invocation, or, when relay-process did not run,
///   measured here first the same way (`maximumRuns` saturating runs); then `halfMaximumPairs`
///   pairs send at 0.5x of it. The server runs with `--commit-times-file`, so the commit times of
///   its mailbox transactions inside the window are reported next to the latency.
struct LatencyBenchmark {
    var dataRoot: String
    var duration: Duration
    var warmup: Duration
    var moderateRate: Double
    var moderatePairs: Int
    var idleRate: Double
    var serverBinary: String
    /// The saturating load the maximum is measured with (relay-process's), and whose pairs,
    /// warm-up and window the half-maximum run uses.
    var saturation: RelayLoad
    /// relay-process's median delivered/s from this invocation, if it ran.
    var measuredMaximum: Double?
    var maximumRuns: Int

    struct Row {
        let label: String
        let histogram: Histogram<UInt64>
        let offeredRate: Double
        let outcome: RelayLoad.Outcome
        /// Commit durations in the window, in seconds, sorted; nil when not available.
        let commitSeconds: [Double]?
        /// The server process's CPU per delivered message in µs (child process only).
        var serverCPUPerMessage: Double?

        func percentile(_ value: Double) -> Double { Double(histogram.valueAtPercentile(value)) / 1e6 }

        /// The commit time at `fraction` (0.99: p99) in ms.
        func commitPercentile(_ fraction: Double) -> Double? {
            guard let commits = commitSeconds, !commits.isEmpty else { return nil }
            return commits[min(commits.count - 1, Int(Double(commits.count) * fraction))] * 1e3
        }
    }

    struct Summary {
        var idle: Row
        var moderate: Row
        var halfMaximum: Row
        /// The maximum the half-maximum row took half of, and whether this scenario measured it.
        var maximum: Double
        var maximumMeasuredHere: Bool
    }

    func run() async throws -> Summary {
        Report.heading("3. delivery latency: send -> push on loopback (ms), \(Report.fixed(Measurement.seconds(duration), 1)) s after \(Report.fixed(Measurement.seconds(warmup), 1)) s warm-up")
        emit("from just before the sender's WireClient.request(.send) to the recipient's WireClient yielding the push; "
            + "includes both clients' Noise and codec work and the commit (one fsync) before the push")
        let idle = try await measureInProcess(label: "idle (1 pair, \(Int(idleRate))/s, one at a time)", pairs: 1, perPairRate: idleRate)
        let moderate = try await measureInProcess(
            label: "moderate (\(moderatePairs) pairs, \(Int(moderateRate))/s)", pairs: moderatePairs, perPairRate: moderateRate / Double(moderatePairs))

        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let maximum: Double
        if let measuredMaximum {
            maximum = measuredMaximum
            emit("maximum: \(Report.fixed(maximum, 0)) delivered/s, relay-process's median earlier in this run")
        } else {
            var rates: [Double] = []
            for index in 0..<maximumRuns {
                let run = try await ServerProcessRun(binary: serverBinary, load: saturation, dataRoot: dataRoot, prefix: "m\(index)").run(crypto: crypto, random: random)
                rates.append(run.outcome.deliveredPerSecond)
                emit("  maximum run \(index + 1): \(Report.fixed(run.outcome.deliveredPerSecond, 0)) delivered/s (parley-server child, \(saturation.pairs) pairs saturating)"
                    + (run.outcome.failed > 0 ? ", \(run.outcome.failed) failed (first: \(run.outcome.firstError ?? "?"))" : ""))
            }
            maximum = Measurement.median(rates)
            emit("maximum: \(Report.fixed(maximum, 0)) delivered/s (median of \(rates.count), measured here: relay-process did not run)")
        }
        let half = try await measureHalfMaximum(maximum, crypto: crypto, random: random)

        let rows = [idle, moderate, half]
        emit(Report.pad("load", 52) + ["samples", "p50", "p90", "p99", "p99.9", "max"].map { Report.padLeft($0, 9) }.joined() + "  p99 < 5 ms")
        for row in rows {
            let values = [50.0, 90.0, 99.0, 99.9].map { Report.fixed(row.percentile($0), 2) } + [Report.fixed(Double(row.histogram.max) / 1e6, 2)]
            let verdict = row.percentile(99) < 5 ? "met" : "MISSED"
            emit(Report.pad(row.label, 52) + Report.padLeft("\(row.histogram.totalCount)", 9) + values.map { Report.padLeft($0, 9) }.joined() + "  " + verdict)
        }
        return Summary(idle: idle, moderate: moderate, halfMaximum: half, maximum: maximum, maximumMeasuredHere: measuredMaximum == nil)
    }

    private func measureHalfMaximum(_ maximum: Double, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> Row {
        let pairs = saturation.pairs
        let rate = maximum / 2
        let label = "half the maximum (\(pairs) pairs, \(Int(rate.rounded()))/s, child)"
        var load = saturation
        load.mode = .paced(perPairRate: rate / Double(pairs))
        load.acknowledgeBatch = 32
        let run = try await ServerProcessRun(binary: serverBinary, load: load, dataRoot: dataRoot, prefix: "h", recordCommitTimes: true)
            .run(crypto: crypto, random: random)
        let outcome = run.outcome
        emit("  \(label): offered \(Report.fixed(rate, 0))/s, delivered \(Report.fixed(outcome.deliveredPerSecond, 0))/s, "
            + "server CPU \(Report.fixed(run.serverCPUSeconds / outcome.seconds * 100, 0))% of one core, \(Report.fixed(run.serverCPUPerMessage * 1e6, 1)) us per message")
        let commits = run.commits
        if let commits {
            describeCommits(label, durations: commits.map { Double($0.durationNanoseconds) / 1e9 }.sorted(),
                envelopes: commits.map(\.envelopes), acknowledgements: commits.map(\.acknowledgements).reduce(0, +), windowSeconds: outcome.seconds)
        } else {
            emit("  \(label): commit times not available (the server wrote no --commit-times-file; did it stop cleanly?)")
        }
        if outcome.failed > 0 { emit("  \(label): \(outcome.failed) sends failed (first: \(outcome.firstError ?? "?"))") }
        return Row(
            label: label, histogram: outcome.latency!, offeredRate: rate, outcome: outcome,
            commitSeconds: commits.map { $0.map { Double($0.durationNanoseconds) / 1e9 }.sorted() }, serverCPUPerMessage: run.serverCPUPerMessage * 1e6)
    }

    private func measureInProcess(label: String, pairs: Int, perPairRate: Double) async throws -> Row {
        let server = try await InProcessServer.start(directoryRoot: dataRoot)
        let load = RelayLoad(pairs: pairs, mode: .paced(perPairRate: perPairRate), warmup: warmup, duration: duration, acknowledgeBatch: 32, prefix: "l")
        let outcome: RelayLoad.Outcome
        do {
            outcome = try await load.run(port: server.port, serverKey: server.serverKey)
        } catch {
            await server.stop()
            throw error
        }
        let store = server.mailbox.takeWindow()
        await server.stop()
        let commits = store.commitSeconds.sorted()
        describeCommits(label, durations: commits, envelopes: store.batchSizes, acknowledgements: store.acknowledgementsFolded,
            acknowledgeTransactions: store.acknowledgeSeconds.count)
        if outcome.failed > 0 { emit("  \(label): \(outcome.failed) sends failed (first: \(outcome.firstError ?? "?"))") }
        return Row(label: label, histogram: outcome.latency!, offeredRate: perPairRate * Double(pairs), outcome: outcome, commitSeconds: commits)
    }

    /// One line on the window's commits: how many, their mean batch, and their duration's
    /// distribution (`durations` sorted, in seconds).
    /// `windowSeconds`: the measured window, for the share of it the writer spent committing (nil
    /// for the in-process rows, whose commits are counted from the server's start, warm-up included).
    private func describeCommits(
        _ label: String, durations: [Double], envelopes: [Int], acknowledgements: Int, acknowledgeTransactions: Int? = nil, windowSeconds: Double? = nil
    ) {
        guard !durations.isEmpty else {
            emit("  \(label): no mailbox commits in the window")
            return
        }
        func at(_ fraction: Double) -> String { Report.fixed(durations[min(durations.count - 1, Int(Double(durations.count) * fraction))] * 1e3, 2) }
        emit("  \(label): \(durations.count) mailbox commits (batch mean \(Report.fixed(Double(envelopes.reduce(0, +)) / Double(durations.count), 1))), "
            + "commit time p50 \(at(0.5)) ms, p90 \(at(0.9)) ms, p99 \(at(0.99)) ms, max \(Report.fixed(durations.last! * 1e3, 2)) ms, "
            + "mean \(Report.fixed(durations.reduce(0, +) / Double(durations.count) * 1e3, 2)) ms, "
            + (windowSeconds.map { "committing \(Report.fixed(durations.reduce(0, +) / $0 * 100, 0))% of the window" } ?? "from the server's start")
            + "; "
            + (acknowledgeTransactions.map { "\($0) ack transactions, " } ?? "") + "\(acknowledgements) acknowledgements folded into commits")
    }
}
