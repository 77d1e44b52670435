import Conversations
import Envelope
import Primitives

/// Something that happened to the account, as the durable event stream tells it.
///
/// Written by the transaction that causes it (a delivery's ``InboundDelivery`` transaction for a
/// message, a receipt, a declined request or an identity change), so the log never tells of a
/// message history does not hold, and never misses one it does.
public enum DurableEvent: Sendable, Equatable {
    /// A message arrived and was stored (a first message from a stranger is a request).
    case message(HistoryEntry)
    /// Delivery or read receipts raised the status of sent messages to `peer`.
    case receipts(peer: Username, ids: [MessageID], status: HistoryEntry.Status)
    /// `peer` declined our message request.
    case requestDeclined(Username)
    /// `peer`'s identity key changed; sending to them is held until verify or trust.
    case identityChanged(Username)
    /// The connection to the server came up (`connected`) or went down.
    case connection(connected: Bool, reason: String)
}

/// One entry of the event log: its cursor (a sequence number that only grows, never reused) and
/// when it was written.
public struct LoggedEvent: Sendable, Equatable {
    public let cursor: UInt64
    public let at: Timestamp
    public let event: DurableEvent

    public init(cursor: UInt64, at: Timestamp, event: DurableEvent) {
        self.cursor = cursor
        self.at = at
        self.event = event
    }
}

/// The bound of the event log: the newest ``maxEvents`` are kept, older ones are deleted as new
/// ones are appended (in the same transaction). A subscriber whose cursor is older than the
/// oldest kept event gets what is kept, and learns from ``EventLog/oldestCursor()`` that it
/// missed some (the history itself is still there: `history` reads it).
public struct EventLogLimits: Sendable, Equatable {
    public let maxEvents: Int

    public init(maxEvents: Int) {
        self.maxEvents = maxEvents
    }

    /// 10,000 events: days of a busy bot's traffic, a few MiB sealed.
    public static let standard = EventLogLimits(maxEvents: 10_000)
}

/// The account's durable event log, read by the daemon's `subscribe` from a cursor.
///
/// Implemented by `SQLiteEventLog` (sealed rows, `seq` AUTOINCREMENT as the cursor) and
/// `InMemoryEventLog`; `EventLogContract` checks both.
public protocol EventLog: Sendable {
    /// Appends `event` and returns its cursor, larger than every cursor handed out before (also
    /// across restarts and after the oldest events were deleted); trims the log to its limit.
    func append(_ event: DurableEvent, at: Timestamp) throws(StoreError) -> UInt64
    /// Up to `limit` events with a cursor greater than `cursor`, oldest first.
    func events(after cursor: UInt64, limit: Int) throws(StoreError) -> [LoggedEvent]
    /// The cursor of the newest event, 0 when none was ever appended.
    func latestCursor() throws(StoreError) -> UInt64
    /// The cursor of the oldest event kept, nil when the log is empty.
    func oldestCursor() throws(StoreError) -> UInt64?
}
