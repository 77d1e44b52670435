import Foundation
import Synchronization

/// One figure of one scenario as `bench-results.json` records it: the median of `runs` runs, the
/// spread, and the baseline measured in the same invocation (raw libsodium for crypto, the
/// baseline server binary for the relay, nil where there is none), with `ratio = value / baseline`.
struct ScenarioResult: Sendable, Encodable {
    var name: String
    var value: Double
    var unit: String
    var baseline: Double?
    /// What ``baseline`` is (e.g. "raw libsodium", "baseline parley-server"), for a reader.
    var baselineName: String?
    var ratio: Double?
    var runs: Int
    var min: Double
    var median: Double
    var max: Double
    /// The figure the issue sets for it, if any (information only: nothing asserts on it).
    var target: String?

    /// A result from several runs: value = median.
    init(name: String, unit: String, samples: [Double], baseline: Double? = nil, baselineName: String? = nil, target: String? = nil) {
        precondition(!samples.isEmpty, "a result needs at least one run")
        self.name = name
        self.unit = unit
        median = Measurement.median(samples)
        value = median
        min = samples.min()!
        max = samples.max()!
        runs = samples.count
        self.baseline = baseline
        self.baselineName = baseline == nil ? nil : baselineName
        ratio = baseline.flatMap { $0 == 0 ? nil : median / $0 }
        self.target = target
    }

    enum CodingKeys: String, CodingKey {
        case name, value, unit, baseline, ratio, runs, min, median, max
        case baselineName = "baseline_name"
        case target
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(Self.finite(value), forKey: .value)
        try container.encode(unit, forKey: .unit)
        // Explicit nulls: every object has every key, so a reader need not guess.
        try container.encode(baseline.map(Self.finite), forKey: .baseline)
        try container.encode(baselineName, forKey: .baselineName)
        try container.encode(ratio.map(Self.finite), forKey: .ratio)
        try container.encode(runs, forKey: .runs)
        try container.encode(Self.finite(min), forKey: .min)
        try container.encode(Self.finite(median), forKey: .median)
        try container.encode(Self.finite(max), forKey: .max)
        try container.encode(target, forKey: .target)
    }

    /// JSON has no infinity or NaN: such a value (a failed run) is written as 0.
    private static func finite(_ value: Double) -> Double { value.isFinite ? value : 0 }
}

/// Every figure the benchmarks of one `parley-bench` invocation produced, in order; written to
/// `bench-results.json` at the end (and after each benchmark, so a run stopped part-way still
/// leaves what it measured).
enum BenchResults {
    private static let results = Mutex<[ScenarioResult]>([])
    nonisolated(unsafe) static var path = "bench-results.json"

    static func record(_ result: ScenarioResult) {
        results.withLock { $0.append(result) }
    }

    static func write() {
        let all = results.withLock { $0 }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let data = try encoder.encode(all)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            emit("could not write \(path): \(error)")
        }
    }
}
