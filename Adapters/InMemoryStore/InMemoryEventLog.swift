import ClientCore
import Primitives
import Synchronization

/// ``EventLog`` in memory, with the SQLite log's semantics: cursors only grow (never reused after
/// trimming), the newest `limits.maxEvents` are kept. Passes `EventLogContract`.
public final class InMemoryEventLog: EventLog {
    struct State {
        var entries: [LoggedEvent] = []
        var lastCursor: UInt64 = 0
    }

    private let state = LockedValue(State())
    private let limits: EventLogLimits

    public init(limits: EventLogLimits = .standard) {
        self.limits = limits
    }

    public func append(_ event: DurableEvent, at: Timestamp) throws(StoreError) -> UInt64 {
        state.withLock { state in
            state.lastCursor += 1
            state.entries.append(LoggedEvent(cursor: state.lastCursor, at: at, event: event))
            if state.entries.count > limits.maxEvents { state.entries.removeFirst(state.entries.count - limits.maxEvents) }
            return state.lastCursor
        }
    }

    public func events(after cursor: UInt64, limit: Int) throws(StoreError) -> [LoggedEvent] {
        state.withLock { Array($0.entries.lazy.filter { $0.cursor > cursor }.prefix(max(0, limit))) }
    }

    public func latestCursor() throws(StoreError) -> UInt64 { state.withLock { $0.lastCursor } }

    public func oldestCursor() throws(StoreError) -> UInt64? { state.withLock { $0.entries.first?.cursor } }

    var snapshot: State {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
