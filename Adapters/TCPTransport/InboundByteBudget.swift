import NIOConcurrencyHelpers
import SecureChannel

/// The server's budget of inbound bytes held for all connections together (frames being
/// reassembled, and frames decrypted but not yet taken by the application): see
/// ``ChannelLimits/maxBufferedInboundBytes``.
final class InboundByteBudget: Sendable {
    private let limit: Int
    private let used = NIOLockedValueBox(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Bytes held right now.
    var current: Int { used.withLockedValue { $0 } }

    /// Takes `bytes` if they fit; returns whether they did.
    func reserve(_ bytes: Int) -> Bool {
        used.withLockedValue { used in
            guard used + bytes <= limit else { return false }
            used += bytes
            return true
        }
    }

    func release(_ bytes: Int) {
        used.withLockedValue { $0 -= bytes }
    }
}

/// One connection's share of an ``InboundByteBudget``: reserved by the Noise handler as chunks
/// arrive, released as the application takes frames, and all given back when the connection ends
/// (frames still buffered then are dropped with it).
final class ConnectionInboundBytes: Sendable {
    private struct State {
        var held = 0
        var ended = false
    }

    private let budget: InboundByteBudget
    private let state = NIOLockedValueBox(State())

    init(budget: InboundByteBudget) {
        self.budget = budget
    }

    /// Adjusts this connection's holding by `delta` bytes (negative gives some back). Returns false,
    /// taking nothing, when a growth does not fit the budget or the connection has ended.
    func adjust(by delta: Int) -> Bool {
        state.withLockedValue { state in
            guard !state.ended else { return false }
            if delta > 0 {
                guard budget.reserve(delta) else { return false }
            } else {
                budget.release(-delta)
            }
            state.held += delta
            return true
        }
    }

    /// Gives everything back; later adjustments fail. Idempotent.
    func end() {
        state.withLockedValue { state in
            guard !state.ended else { return }
            state.ended = true
            budget.release(state.held)
            state.held = 0
        }
    }
}
