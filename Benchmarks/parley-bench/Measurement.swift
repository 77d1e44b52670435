import Foundation
import Primitives
import Synchronization

/// Timing helpers shared by the benchmarks: wall time from `ContinuousClock`, medians over
/// repeated runs, and a sink the optimiser cannot see through.
enum Measurement {
    static let clock = ContinuousClock()

    /// The median of `values` (the mean of the middle two for an even count).
    static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median of nothing")
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Seconds in a `Duration`, as a `Double`.
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// How many iterations of `body` take at least `target`, doubling from 1 (so a round is long
    /// enough that the clock's resolution does not matter).
    static func calibrate(target: Duration, _ body: () -> Void) -> Int {
        var iterations = 1
        while true {
            let elapsed = clock.measure { for _ in 0..<iterations { body() } }
            if elapsed >= target || iterations >= 1 << 26 { return iterations }
            iterations *= 2
        }
    }

    /// Nanoseconds per call of `body`, over `iterations` calls.
    static func nanosecondsPerCall(iterations: Int, _ body: () -> Void) -> Double {
        let elapsed = clock.measure { for _ in 0..<iterations { body() } }
        return seconds(elapsed) * 1e9 / Double(iterations)
    }

    /// This process's user + system CPU time so far, in seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
    }

    /// Another process's user + system CPU time so far (from /proc/PID/stat), in seconds.
    static func cpuSeconds(ofProcess pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime field 14, stime field 15 (1-based).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmRSS of a process in bytes (from /proc/PID/status).
    static func residentBytes(ofProcess pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kib = Int(parts[1]) { return kib * 1024 }
        }
        return nil
    }
}

/// Keeps a result alive so the optimiser cannot delete the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// Formatting for the report.
enum Report {
    static func heading(_ title: String) {
        emit("")
        emit("== \(title) ==")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }

    static func bytes(_ value: Int) -> String {
        if abs(value) >= 1 << 20 { return fixed(Double(value) / Double(1 << 20), 1) + " MiB" }
        if abs(value) >= 1 << 10 { return fixed(Double(value) / Double(1 << 10), 1) + " KiB" }
        return "\(value) B"
    }
}

/// A one-shot gate: tasks wait until it opens; once open it stays open.
final class Gate: Sendable {
    private let state = LockedValue<(isOpen: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    var isOpen: Bool { state.withLock { $0.isOpen } }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let openNow = state.withLock { state -> Bool in
                if state.isOpen { return true }
                state.waiters.append(continuation)
                return false
            }
            if openNow { continuation.resume() }
        }
    }
}

/// A counter many tasks add to.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ amount: Int = 1) { value.add(amount, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// A value many tasks read and write under a lock that closures can capture.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: LockedValue<Value>
    init(_ value: Value) { mutex = LockedValue(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}

/// Prints a line and flushes at once: `make bench` output is often piped to a file or `tee`, and
/// a run that is stopped part-way must still show what it measured.
func emit(_ line: String) {
    print(line)
    fflush(nil)
}
