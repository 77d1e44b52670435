import Foundation
import Histogram

/// Benchmark 3: send->push latency over loopback, per message, at idle (one pair, one message at
/// a time) and at a moderate load (`moderateRate` messages per second spread over several pairs),
/// against the same in-process server as benchmark 2.
struct LatencyBenchmark {
    var dataRoot: String
    var duration: Duration
    var warmup: Duration
    var moderateRate: Double
    var moderatePairs: Int
    var idleRate: Double

    struct Row {
        let label: String
        let histogram: Histogram<UInt64>
        let offeredRate: Double
        let outcome: RelayLoad.Outcome

        func percentile(_ value: Double) -> Double { Double(histogram.valueAtPercentile(value)) / 1e6 }
    }

    func run() async throws -> [Row] {
        Report.heading("3. delivery latency: send -> push on loopback (ms), \(Report.fixed(Measurement.seconds(duration), 1)) s after \(Report.fixed(Measurement.seconds(warmup), 1)) s warm-up")
        emit("from just before the sender's WireClient.request(.send) to the recipient's WireClient yielding the push; "
            + "includes both clients' Noise and codec work and the commit (one fsync) before the push")
        var rows: [Row] = []
        rows.append(try await measure(label: "idle (1 pair, \(Int(idleRate))/s, one at a time)", pairs: 1, perPairRate: idleRate))
        rows.append(try await measure(
            label: "moderate (\(moderatePairs) pairs, \(Int(moderateRate))/s)", pairs: moderatePairs, perPairRate: moderateRate / Double(moderatePairs)))
        emit(Report.pad("load", 36) + ["samples", "p50", "p90", "p99", "p99.9", "max"].map { Report.padLeft($0, 9) }.joined() + "  p99 < 5 ms")
        for row in rows {
            let values = [50.0, 90.0, 99.0, 99.9].map { Report.fixed(row.percentile($0), 2) } + [Report.fixed(Double(row.histogram.max) / 1e6, 2)]
            let verdict = row.percentile(99) < 5 ? "met" : "MISSED"
            emit(Report.pad(row.label, 36) + Report.padLeft("\(row.histogram.totalCount)", 9) + values.map { Report.padLeft($0, 9) }.joined() + "  " + verdict)
        }
        return rows
    }

    private func measure(label: String, pairs: Int, perPairRate: Double) async throws -> Row {
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
        if !commits.isEmpty {
            func at(_ fraction: Double) -> String { Report.fixed(commits[min(commits.count - 1, Int(Double(commits.count) * fraction))] * 1e3, 2) }
            emit("  \(label): \(commits.count) mailbox commits (batch mean \(Report.fixed(Double(store.batchSizes.reduce(0, +)) / Double(commits.count), 1))), "
                + "commit time p50 \(at(0.5)) ms, p90 \(at(0.9)) ms, p99 \(at(0.99)) ms, max \(Report.fixed(commits.last! * 1e3, 2)) ms; "
                + "\(store.acknowledgeSeconds.count) ack transactions, \(store.acknowledgementsFolded) acknowledgements folded into commits")
        }
        if outcome.failed > 0 { emit("  \(label): \(outcome.failed) sends failed (first: \(outcome.firstError ?? "?"))") }
        return Row(label: label, histogram: outcome.latency!, offeredRate: perPairRate * Double(pairs), outcome: outcome)
    }
}
