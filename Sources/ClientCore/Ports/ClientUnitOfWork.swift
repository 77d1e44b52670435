import Conversations
import Prekeys
import Primitives

/// The client's stores as one transaction sees them: every read sees the transaction's own
/// writes, and every write commits or rolls back with the others.
///
/// Valid only inside the ``ClientUnitOfWork/perform(_:)`` call that handed it out: do not keep
/// it or its stores.
public struct ClientTransaction: Sendable {
    public let keys: any LocalKeyStore
    public let sessions: any SessionStore
    public let contacts: any ContactStore
    public let history: any HistoryStore
    public let settings: any ClientSettingsStore
    public let sentLog: any SentMessageLog
    /// The durable event stream: an event is appended by the transaction that causes it.
    public let eventLog: any EventLog

    public init(
        keys: any LocalKeyStore, sessions: any SessionStore, contacts: any ContactStore, history: any HistoryStore,
        settings: any ClientSettingsStore, sentLog: any SentMessageLog, eventLog: any EventLog
    ) {
        self.keys = keys
        self.sessions = sessions
        self.contacts = contacts
        self.history = history
        self.settings = settings
        self.sentLog = sentLog
        self.eventLog = eventLog
    }
}

/// Applies several changes to the client's stores as one: what one delivery changes (session
/// record, one-time prekey erasure, contact, history entry, receipt status, sent log) is applied
/// through this port, so a failure anywhere leaves nothing applied, and a delivery is
/// acknowledged only after ``perform(_:)`` returned.
///
/// Implemented by `SQLiteClientStore` (one `BEGIN IMMEDIATE` transaction, durable on return) and
/// by the in-memory client stores (a snapshot restored on failure); `UnitOfWorkContract` checks
/// both.
public protocol ClientUnitOfWork: Sendable {
    /// Runs `body` in one transaction over the client's stores, and commits what it changed.
    ///
    /// Transactions are serialised: no other write to these stores (through a transaction or
    /// through the stores directly) interleaves with `body`. Do not call the stores of
    /// ``ClientStores`` from inside `body` (it may deadlock); use the ``ClientTransaction``.
    /// - Returns: what `body` returned, once its changes are committed.
    /// - Throws: what `body` threw, or the commit's ``StoreError``; in either case none of the
    ///   changes `body` made is applied.
    func perform<T: Sendable>(_ body: (ClientTransaction) throws(StoreError) -> T) throws(StoreError) -> T
}
