import NIOConcurrencyHelpers
import SecureChannel

/// The server's connection caps: at most ``ChannelLimits/maxConnections`` in all, and at most
/// ``ChannelLimits/maxConnectionsPerAddress`` from one ``SourceAddress``.
final class ConnectionAdmission: Sendable {
    private struct State {
        var total = 0
        var perAddress: [SourceAddress: Int] = [:]
    }

    /// Why a connection was refused, for the log.
    enum Refusal: Sendable {
        case total, perAddress
    }

    private let maxTotal: Int
    private let maxPerAddress: Int
    private let state = NIOLockedValueBox(State())

    init(limits: ChannelLimits) {
        maxTotal = limits.maxConnections
        maxPerAddress = limits.maxConnectionsPerAddress
    }

    /// Connections open now.
    var count: Int { state.withLockedValue { $0.total } }

    /// Counts a new connection from `address` in, or says why not. A connection without an
    /// address (a Unix socket) counts towards the total only.
    func admit(_ address: SourceAddress?) -> Refusal? {
        state.withLockedValue { state in
            guard state.total < maxTotal else { return .total }
            if let address {
                let current = state.perAddress[address, default: 0]
                guard current < maxPerAddress else { return .perAddress }
                state.perAddress[address] = current + 1
            }
            state.total += 1
            return nil
        }
    }

    /// Counts a connection admitted from `address` out.
    func release(_ address: SourceAddress?) {
        state.withLockedValue { state in
            state.total -= 1
            if let address {
                let remaining = state.perAddress[address, default: 1] - 1
                state.perAddress[address] = remaining > 0 ? remaining : nil
            }
        }
    }
}
