import Dispatch
import Foundation
import Primitives

#if canImport(Glibc)
import Glibc
#endif

/// Runs Argon2id on threads of its own, so that password hashing can never take a thread that
/// storage, the mailbox writer or Swift's cooperative pool needs.
///
/// Why its own threads: each run takes tens of milliseconds of CPU and tens of MiB. On Dispatch's
/// shared pool the old executor parked every queued job on a worker thread (waiting for one of two
/// permits), and the storage queue and the mailbox writer, which share that pool, waited behind
/// them: 240 unauthenticated logins made an authenticated request take 8 s. Here a job waits in
/// this pool's own queue, not on a thread, and only `threads` threads ever run hashes. They run at
/// a lower scheduling priority (nice 10 on Linux), so on a busy machine message traffic wins the
/// CPU and hashing takes what is left.
///
/// Admission: jobs for a connection that is not logged in (login, registration) wait in a bounded
/// queue; when it is full the job is refused at once with ``Busy`` (the client is told to retry
/// later) rather than queued without bound, so the wait of an admitted login stays short and a
/// flood cannot hold memory or time. Jobs of a logged-in session (re-authentication before account
/// deletion) have their own queue, served first and never refused: they are few (one per session
/// at a time) and their owner has proved a password already.
final class PasswordHashingPool: Sendable {
    /// Whose hashing a job is.
    enum Lane: Sendable {
        /// A logged-in session's (served first, never refused).
        case authenticated
        /// A connection's that has not logged in (bounded, refused with ``Busy`` when full).
        case unauthenticated
    }

    /// The unauthenticated queue is full; nothing was run.
    struct Busy: Error, Equatable {}

    private let core: Core

    /// - Parameters:
    ///   - threads: how many hashes run at once (each takes the cost's memory).
    ///   - maxQueuedUnauthenticated: how many unauthenticated jobs may wait for a thread.
    init(label: String, threads: Int, maxQueuedUnauthenticated: Int) {
        core = Core(threads: max(threads, 1), maxQueuedUnauthenticated: max(maxQueuedUnauthenticated, 0))
        for index in 0..<max(threads, 1) {
            let core = self.core
            let thread = Thread { core.work() }
            // Linux keeps at most 15 characters of a thread name.
            thread.name = "\(label)-\(index)"
            thread.start()
        }
    }

    deinit {
        core.stop()
    }

    /// Runs `body` on a hashing thread and returns its result.
    /// - Throws: ``Busy`` when `lane` is unauthenticated and its queue is full; whatever `body`
    ///   throws.
    func run<T: Sendable>(_ lane: Lane, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job: Core.Job = { continuation.resume(with: Result { try body() }) }
            guard core.enqueue(job, lane) else {
                continuation.resume(throwing: Busy())
                return
            }
        }
    }

    /// Returns once every job queued before it has finished.
    func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            core.whenIdle { continuation.resume() }
        }
    }

    /// The queues and the threads' wake-ups; what the threads hold (the pool's deinit stops them).
    private final class Core: Sendable {
        typealias Job = @Sendable () -> Void

        private struct State {
            var authenticated: [Job] = []
            var unauthenticated: [Job] = []
            var running = 0
            var idleWaiters: [Job] = []
            var stopping = false
        }

        private let maxQueuedUnauthenticated: Int
        private let state = LockedValue(State())
        /// One signal per queued job (and one per thread at stop).
        private let wakeups = DispatchSemaphore(value: 0)
        private let threads: Int

        init(threads: Int, maxQueuedUnauthenticated: Int) {
            self.threads = threads
            self.maxQueuedUnauthenticated = maxQueuedUnauthenticated
        }

        func enqueue(_ job: @escaping Job, _ lane: Lane) -> Bool {
            let queued = state.withLock { state -> Bool in
                switch lane {
                case .authenticated:
                    state.authenticated.append(job)
                case .unauthenticated:
                    guard state.unauthenticated.count < maxQueuedUnauthenticated else { return false }
                    state.unauthenticated.append(job)
                }
                return true
            }
            if queued { wakeups.signal() }
            return queued
        }

        func whenIdle(_ job: @escaping Job) {
            let now = state.withLock { state -> Bool in
                guard state.running > 0 || !state.authenticated.isEmpty || !state.unauthenticated.isEmpty else { return true }
                state.idleWaiters.append(job)
                return false
            }
            if now { job() }
        }

        func stop() {
            state.withLock { $0.stopping = true }
            for _ in 0..<threads { wakeups.signal() }
        }

        /// A hashing thread's loop: waits (on this thread, which only hashes) for a job, runs it.
        func work() {
            Self.lowerPriority()
            while true {
                wakeups.wait()
                let job = state.withLock { state -> Job? in
                    if state.stopping { return nil }
                    let next = state.authenticated.isEmpty ? state.unauthenticated.removeFirstIfAny() : state.authenticated.removeFirst()
                    if next != nil { state.running += 1 }
                    return next
                }
                guard let job else {
                    if state.withLock({ $0.stopping }) { return }
                    continue
                }
                job()
                let idle = state.withLock { state -> [Job] in
                    state.running -= 1
                    guard state.running == 0, state.authenticated.isEmpty, state.unauthenticated.isEmpty else { return [] }
                    defer { state.idleWaiters = [] }
                    return state.idleWaiters
                }
                for waiter in idle { waiter() }
            }
        }

        /// Nice 10 for the calling thread (Linux schedules threads individually): hashing yields
        /// the CPU to message traffic. Best effort; elsewhere a no-op.
        private static func lowerPriority() {
            #if os(Linux)
            // On Linux the nice value is per thread, and `who` 0 is the calling thread.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            #endif
        }
    }
}

extension Array {
    fileprivate mutating func removeFirstIfAny() -> Element? {
        isEmpty ? nil : removeFirst()
    }
}
