import Foundation
import NIOConcurrencyHelpers
import Primitives
import Synchronization

/// Benchmark 6, `locks`: what one `withLock` costs with Parley's `LockedValue` (a pthread mutex,
/// which ThreadSanitizer can see) against `Synchronization.Mutex` (a futex, which it cannot) and
/// NIO's `NIOLockedValueBox` (the adapters' lock), on the shape of the hot paths: a critical
/// section that mutates a small struct (an array append and a counter, like the batcher's queue
/// and the in-memory stores).
///
/// Two cases: uncontended (one thread, as almost every lock in the server is taken) and contended
/// (two threads hammering the same lock, the worst case on this 2-core machine). Rounds of ~40 ms,
/// the three locks alternating within each round set, median of 11 rounds, in ns per `withLock`.
struct LockBenchmark {
    let rounds: Int
    let roundTarget: Duration

    private struct Section {
        var queue: [Int] = []
        var counter = 0
        mutating func touch(_ value: Int) {
            queue.append(value)
            if queue.count == 64 { queue.removeAll(keepingCapacity: true) }
            counter &+= value
        }
    }

    /// `Mutex` is `~Copyable`, so an escaping closure reaches it through a class, as our types
    /// held it (a stored property of a final class).
    private final class MutexBox: Sendable {
        let mutex = Mutex(Section())
    }

    func run() {
        emit("")
        emit("== locks: ns per withLock (median of \(rounds) rounds) ==")
        let mutex = MutexBox()
        let locked = LockedValue(Section())
        let nio = NIOLockedValueBox(Section())
        let bodies: [(String, @Sendable (Int) -> Void)] = [
            ("Synchronization.Mutex", { value in mutex.mutex.withLock { $0.touch(value) } }),
            ("LockedValue (pthread)", { value in locked.withLock { $0.touch(value) } }),
            ("NIOLockedValueBox", { value in nio.withLockedValue { $0.touch(value) } }),
        ]
        for threads in [1, 2] {
            var samples = [[Double]](repeating: [], count: bodies.count)
            let iterations = Measurement.calibrate(target: roundTarget) { for i in 0..<64 { bodies[0].1(i) } } * 64
            for _ in 0..<rounds {
                for (index, body) in bodies.enumerated() {
                    samples[index].append(Self.nanoseconds(threads: threads, iterations: iterations, body.1))
                }
            }
            let label = threads == 1 ? "uncontended (1 thread)" : "contended (2 threads, one lock)"
            emit(label)
            for (index, body) in bodies.enumerated() {
                emit("  \(body.0.padding(toLength: 24, withPad: " ", startingAt: 0)) \(String(format: "%7.1f", Measurement.median(samples[index]))) ns")
            }
            _ = mutex.mutex.withLock { $0.counter } &+ locked.withLock { $0.counter } &+ nio.withLockedValue { $0.counter }
        }
    }

    /// Wall nanoseconds per call when `threads` threads each make `iterations` calls at once.
    private static func nanoseconds(threads: Int, iterations: Int, _ body: @escaping @Sendable (Int) -> Void) -> Double {
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for _ in 0..<threads {
            done.enter()
            Thread.detachNewThread {
                start.wait()
                for i in 0..<iterations { body(i) }
                done.leave()
            }
        }
        let began = Measurement.clock.now
        for _ in 0..<threads { start.signal() }
        done.wait()
        let elapsed = Measurement.clock.now - began
        return Measurement.seconds(elapsed) * 1e9 / Double(iterations * threads)
    }
}
