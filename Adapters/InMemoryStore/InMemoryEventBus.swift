import Primitives
import ServerCore

/// ``AccountEventBus`` within one process: the embedded default for a single server node.
public final class InMemoryEventBus: AccountEventBus {
    private typealias Handler = @Sendable (AccountEvent) -> Void

    private struct State {
        var nextID: UInt64 = 0
        var subscribers: [Username: [UInt64: Handler]] = [:]
    }

    private let state = LockedValue(State())

    public init() {}

    public func publish(_ event: AccountEvent, to user: Username) {
        // Called under the lock, so that a cancelled subscription's handler is never called after
        // `cancel()` returned. Handlers only queue the event (the port asks them to be quick).
        state.withLock { state in
            guard let handlers = state.subscribers[user] else { return }
            for handler in handlers.values { handler(event) }
        }
    }

    public func subscribe(_ user: Username) -> AccountEventSubscription {
        let (stream, continuation) = AsyncStream<AccountEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = add({ event in continuation.yield(event) }, for: user)
        return AccountEventSubscription(events: stream) { [weak self] in
            self?.remove(id, for: user)
            continuation.finish()
        }
    }

    public func subscribe(_ user: Username, handler: @escaping @Sendable (AccountEvent) -> Void) -> AccountEventHandlerSubscription {
        let id = add(handler, for: user)
        return AccountEventHandlerSubscription { [weak self] in self?.remove(id, for: user) }
    }

    private func add(_ handler: @escaping Handler, for user: Username) -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            state.subscribers[user, default: [:]][state.nextID] = handler
            return state.nextID
        }
    }

    private func remove(_ id: UInt64, for user: Username) {
        state.withLock { state in
            state.subscribers[user]?.removeValue(forKey: id)
            if state.subscribers[user]?.isEmpty == true { state.subscribers[user] = nil }
        }
    }

    /// How many users have at least one subscriber (for tests).
    public var subscribedUserCount: Int { state.withLock { $0.subscribers.count } }
}
