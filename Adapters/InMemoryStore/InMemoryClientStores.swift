import ClientCore
import Conversations
import Prekeys
import Primitives

/// One account's client stores in memory, and the ``ClientUnitOfWork`` over them: a transaction
/// snapshots every store, runs, and restores the snapshot if anything in it threw, so a failure
/// anywhere leaves nothing applied (as the SQLite transaction does). Passes `UnitOfWorkContract`.
///
/// Transactions are serialised with each other. A write made directly on one of the stores
/// while a transaction runs is not (the in-memory stores exist for tests, whose clients are
/// actors that do not do that).
public final class InMemoryClientStores: ClientUnitOfWork {
    public let keys = InMemoryLocalKeyStore()
    public let sessions = InMemorySessionStore()
    public let contacts = InMemoryContactStore()
    public let history = InMemoryHistoryStore()
    public let settings = InMemoryClientSettingsStore()
    public let sentLog = InMemorySentMessageLog()
    public let eventLog = InMemoryEventLog()
    /// The sealed image files (outside transactions, as files are).
    public let imageBlobs = InMemoryImageBlobStore()
    private let serial = LockedValue(())

    public init() {}

    /// The stores as a transaction sees them (here: the stores themselves).
    public var transaction: ClientTransaction {
        ClientTransaction(keys: keys, sessions: sessions, contacts: contacts, history: history, settings: settings, sentLog: sentLog, eventLog: eventLog)
    }

    /// The application's view of these stores, with ``imageBlobs`` (or `imageBlobs`) for the
    /// history's sealed images and `images` for those the person saves in clear.
    public func clientStores(imageBlobs: (any ImageBlobStore)? = nil, images: any ImageLibrary) -> ClientStores {
        ClientStores(
            keys: keys, sessions: sessions, contacts: contacts, history: history, settings: settings, sentLog: sentLog,
            imageBlobs: imageBlobs ?? self.imageBlobs, images: images, eventLog: eventLog, unitOfWork: self)
    }

    public func perform<T: Sendable>(_ body: (ClientTransaction) throws(StoreError) -> T) throws(StoreError) -> T {
        try serial.withLock { (_: inout ()) throws(StoreError) -> T in
            let saved = Snapshot(of: self)
            do throws(StoreError) {
                return try body(transaction)
            } catch {
                saved.restore(into: self)
                throw error
            }
        }
    }

    private struct Snapshot {
        let keys: InMemoryLocalKeyStore.State
        let sessions: [Username: SecretBytes]
        let contacts: [Username: Contact]
        let history: [HistoryEntry]
        let settings: [[UInt8]: [UInt8]]
        let sentLog: [SentMessage]
        let eventLog: InMemoryEventLog.State

        init(of stores: InMemoryClientStores) {
            keys = stores.keys.snapshot
            sessions = stores.sessions.snapshot
            contacts = stores.contacts.snapshot
            history = stores.history.snapshot
            settings = stores.settings.snapshot
            sentLog = stores.sentLog.snapshot
            eventLog = stores.eventLog.snapshot
        }

        func restore(into stores: InMemoryClientStores) {
            stores.keys.snapshot = keys
            stores.sessions.snapshot = sessions
            stores.contacts.snapshot = contacts
            stores.history.snapshot = history
            stores.settings.snapshot = settings
            stores.sentLog.snapshot = sentLog
            stores.eventLog.snapshot = eventLog
        }
    }
}
