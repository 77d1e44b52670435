import Dispatch

/// Runs blocking work (SQLite calls, Argon2id) off Swift's cooperative thread pool, which has only
/// as many threads as cores: a blocking call there would stall every connection.
struct BlockingExecutor: Sendable {
    private let queue: DispatchQueue
    private let permits: DispatchSemaphore?

    /// - Parameters:
    ///   - label: the queue's name, for debuggers.
    ///   - serial: one job at a time, in submission order.
    ///   - width: for a concurrent executor, how many jobs may run at once.
    init(label: String, serial: Bool, width: Int = 0) {
        queue = serial ? DispatchQueue(label: label) : DispatchQueue(label: label, attributes: .concurrent)
        permits = width > 0 ? DispatchSemaphore(value: width) : nil
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                permits?.wait()
                defer { permits?.signal() }
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Returns once every job submitted before it has finished.
    func drain() async {
        await withCheckedContinuation { continuation in
            queue.async(flags: .barrier) { continuation.resume() }
        }
    }

    /// Submits `body` without waiting for it.
    func submit(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}
