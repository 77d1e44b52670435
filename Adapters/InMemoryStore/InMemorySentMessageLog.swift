import ClientCore
import Envelope
import Primitives

/// ``SentMessageLog`` in memory, oldest first, with the same bounds as the SQLite log (an entry's
/// size counted as its encoded content).
public final class InMemorySentMessageLog: SentMessageLog {
    private let entries = LockedValue([SentMessage]())
    private let limits: SentLogLimits

    public init(limits: SentLogLimits = .standard) {
        self.limits = limits
    }

    public func record(_ message: SentMessage, now: Timestamp) throws(StoreError) {
        entries.withLock { entries in
            entries.removeAll { $0.content.id == message.content.id }
            entries.append(message)
            let oldest = now.adding(.zero - limits.maxAge)
            entries.removeAll { $0.loggedAt < oldest }
            if entries.count > limits.maxEntries { entries.removeFirst(entries.count - limits.maxEntries) }
            var bytes = entries.reduce(0) { $0 + $1.content.encoded.count }
            while bytes > limits.maxBytes, entries.count > 1 {
                bytes -= entries.removeFirst().content.encoded.count
            }
        }
    }

    public func message(to peer: Username, envelopeID: UInt64) throws(StoreError) -> SentMessage? {
        entries.withLock { $0.last { $0.peer == peer && $0.envelopeID == envelopeID } }
    }

    public func remove(messageIDs: [MessageID]) throws(StoreError) {
        let ids = Set(messageIDs)
        entries.withLock { $0.removeAll { ids.contains($0.content.id) } }
    }

    public func pendingResends() throws(StoreError) -> [SentMessage] { entries.withLock { $0.filter(\.resendPending) } }

    public func count() throws(StoreError) -> Int { entries.withLock { $0.count } }

    var snapshot: [SentMessage] {
        get { entries.withLock { $0 } }
        set { entries.withLock { $0 = newValue } }
    }
}
