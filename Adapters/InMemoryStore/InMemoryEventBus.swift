import Primitives
import ServerCore
import Synchronization

/// ``AccountEventBus`` within one process: the embedded default for a single server node.
public final class InMemoryEventBus: AccountEventBus {
    private struct State {
        var nextID: UInt64 = 0
        var subscribers: [Username: [UInt64: AsyncStream<AccountEvent>.Continuation]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func publish(_ event: AccountEvent, to user: Username) {
        let targets = state.withLock { Array(($0.subscribers[user] ?? [:]).values) }
        for continuation in targets { continuation.yield(event) }
    }

    public func subscribe(_ user: Username) -> AccountEventSubscription {
        let (stream, continuation) = AsyncStream<AccountEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = state.withLock { state in
            state.nextID += 1
            state.subscribers[user, default: [:]][state.nextID] = continuation
            return state.nextID
        }
        return AccountEventSubscription(events: stream) { [weak self] in
            let removed = self?.state.withLock { state -> AsyncStream<AccountEvent>.Continuation? in
                let continuation = state.subscribers[user]?.removeValue(forKey: id)
                if state.subscribers[user]?.isEmpty == true { state.subscribers[user] = nil }
                return continuation
            }
            removed?.finish()
        }
    }

    /// How many users have at least one subscriber (for tests).
    public var subscribedUserCount: Int { state.withLock { $0.subscribers.count } }
}
