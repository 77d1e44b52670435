import Primitives

/// A counting semaphore for tasks: holders take units (one, or a weight such as a send's bytes)
/// out of `limit`; others wait their turn, first come first served.
final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [(units: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: LockedValue<State>
    /// The most units there are; a request for more is clamped to this, so it waits for all of
    /// them rather than forever.
    let limit: Int

    init(limit: Int) {
        self.limit = limit
        state = LockedValue(State(available: limit))
    }

    /// Waits until `units` (clamped to 1...limit) are free and takes them.
    func acquire(_ units: Int = 1) async {
        let units = clamp(units)
        let acquired = state.withLock { state -> Bool in
            guard state.waiters.isEmpty, state.available >= units else { return false }
            state.available -= units
            return true
        }
        if acquired { return }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.waiters.isEmpty, state.available >= units {
                    state.available -= units
                    return true
                }
                state.waiters.append((units, continuation))
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Gives back what an ``acquire(_:)`` of `units` took.
    func release(_ units: Int = 1) {
        let units = clamp(units)
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.available += units
            var ready: [CheckedContinuation<Void, Never>] = []
            while let first = state.waiters.first, first.units <= state.available {
                state.available -= first.units
                ready.append(first.continuation)
                state.waiters.removeFirst()
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    private func clamp(_ units: Int) -> Int { min(max(units, 1), limit) }
}
