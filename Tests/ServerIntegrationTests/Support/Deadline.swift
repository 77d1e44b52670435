import Primitives

/// A step that did not finish within its explicit deadline.
struct DeadlineExceeded: Error, CustomStringConvertible {
    let what: String
    let limit: Duration
    var description: String { "\(what): not done within \(limit)" }
}

/// Runs `body`, failing with ``DeadlineExceeded`` once `limit` has passed. The body is cancelled
/// then, so everything it awaits must honour cancellation (every helper in this target does).
func withDeadline<Result: Sendable>(
    _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw DeadlineExceeded(what: what, limit: limit)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw DeadlineExceeded(what: what, limit: limit) }
        return first
    }
}

/// Polls `condition` until it holds, failing after `limit`. Only for state that offers no signal
/// to wait on (a server-side counter); everything with a signal waits on ``Observed`` instead.
func eventually(_ what: String, within limit: Duration = .seconds(5), _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else { throw DeadlineExceeded(what: what, limit: limit) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// What a stream of observations ended without: the awaited condition can never hold now.
struct ObservationEnded: Error, CustomStringConvertible {
    let what: String
    let seen: Int
    var description: String { "\(what): the stream ended after \(seen) elements without it" }
}

/// Elements arriving from a background task (pushes, log lines, client events), recorded in order,
/// with bounded waits that are woken by the arrivals themselves rather than by polling.
final class Observed<Element: Sendable>: Sendable {
    private struct Waiter {
        let id: UInt64
        let isSatisfied: @Sendable ([Element]) -> Bool
        let continuation: CheckedContinuation<[Element], any Error>
        let what: String
    }

    private struct State {
        var elements: [Element] = []
        var finished = false
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
    }

    private let state = LockedValue(State())

    /// What a new wait finds when it starts.
    private enum Immediate {
        case satisfied([Element]), ended(Int), cancelled, waiting
    }

    init() {}

    /// Everything recorded so far.
    var elements: [Element] { state.withLock { $0.elements } }

    /// Whether the source has ended.
    var isFinished: Bool { state.withLock { $0.finished } }

    func append(_ element: Element) {
        let ready = state.withLock { state -> [(CheckedContinuation<[Element], any Error>, [Element])] in
            state.elements.append(element)
            let elements = state.elements
            var ready: [(CheckedContinuation<[Element], any Error>, [Element])] = []
            state.waiters.removeAll { waiter in
                guard waiter.isSatisfied(elements) else { return false }
                ready.append((waiter.continuation, elements))
                return true
            }
            return ready
        }
        for (continuation, elements) in ready { continuation.resume(returning: elements) }
    }

    /// Marks the source as ended; waits that are not satisfied yet fail at once.
    func finish() {
        let stranded = state.withLock { state -> [Waiter] in
            state.finished = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        let count = elements.count
        for waiter in stranded { waiter.continuation.resume(throwing: ObservationEnded(what: waiter.what, seen: count)) }
    }

    /// Waits until `condition` holds for everything recorded so far, and returns that.
    /// - Throws: ``DeadlineExceeded`` after `limit`; ``ObservationEnded`` when the source ends first.
    @discardableResult
    func wait(
        _ what: String, within limit: Duration = .seconds(10), until condition: @escaping @Sendable ([Element]) -> Bool
    ) async throws -> [Element] {
        try await withDeadline(limit, what) { try await self.waitUnbounded(what, until: condition) }
    }

    /// Waits until at least `count` elements have been recorded.
    @discardableResult
    func wait(forCount count: Int, _ what: String, within limit: Duration = .seconds(10)) async throws -> [Element] {
        try await wait(what, within: limit) { $0.count >= count }
    }

    /// Waits until the source has ended.
    func waitForEnd(_ what: String, within limit: Duration = .seconds(10)) async throws {
        try await withDeadline(limit, what) {
            do {
                _ = try await self.waitUnbounded(what) { _ in false }
            } catch is ObservationEnded {
                // The end is what this waits for.
            }
        }
    }

    private func waitUnbounded(_ what: String, until condition: @escaping @Sendable ([Element]) -> Bool) async throws -> [Element] {
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate = state.withLock { state -> Immediate in
                    if condition(state.elements) { return .satisfied(state.elements) }
                    if state.finished { return .ended(state.elements.count) }
                    // Checked under the lock the cancellation handler takes: no lost wake-up.
                    if Task.isCancelled { return .cancelled }
                    state.waiters.append(Waiter(id: id, isSatisfied: condition, continuation: continuation, what: what))
                    return .waiting
                }
                switch immediate {
                case .satisfied(let elements): continuation.resume(returning: elements)
                case .ended(let count): continuation.resume(throwing: ObservationEnded(what: what, seen: count))
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .waiting: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}
