import Primitives
import ServerCore

/// ``MailboxStore`` over the server's SQLite file; vended by ``SQLiteServerStore``. Passes
/// `MailboxStoreContract`.
///
/// A batch is one `BEGIN IMMEDIATE ... COMMIT`, hence one fsync of the WAL however many envelopes
/// it carries (and, through ``commit(enqueue:acknowledge:)``, however many acknowledgements ride
/// along). The caps are checked in the same transaction against usage rows (schema version 5):
/// one (count, bytes) row per recipient's queue, one per (recipient, sender) share of it, and the
/// total over all mailboxes. The store keeps those rows itself, not through triggers: a
/// transaction reads each row it needs once, counts its own inserts and deletes in memory
/// (``UsageLedger``), and writes each changed row once before it commits, so an envelope costs
/// its INSERT (or DELETE) and its one index entry, and a batch one read and one write per distinct
/// recipient and (recipient, sender). Drafts that name their recipient's identity key are checked
/// against the accounts and blocks tables in the same transaction, once per distinct recipient
/// and (recipient, sender) pair.
public struct SQLiteMailboxStore: MailboxStore {
    private let database: SQLiteDatabase
    /// The caps every recipient's queue is held to.
    public let limits: MailboxLimits

    init(database: SQLiteDatabase, limits: MailboxLimits) {
        self.database = database
        self.limits = limits
    }

    public func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome] {
        guard !batch.isEmpty else { return [] }
        return try database.transaction { connection throws(StoreError) in
            var ledger = UsageLedger()
            let outcomes = try insert(batch, &ledger, connection)
            try ledger.write(connection)
            return outcomes
        }
    }

    public func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        let acknowledged = acknowledgements.map { (rowIDs: Self.rowIDs($0.ids), recipient: $0.recipient) }.filter { !$0.rowIDs.isEmpty }
        guard !batch.isEmpty || !acknowledged.isEmpty else { return [] }
        return try database.transaction { connection throws(StoreError) in
            var ledger = UsageLedger()
            for acknowledgement in acknowledged {
                _ = try Self.delete(acknowledgement.rowIDs, for: acknowledgement.recipient, &ledger, connection)
            }
            let outcomes = try insert(batch, &ledger, connection)
            try ledger.write(connection)
            return outcomes
        }
    }

    /// Inserts `batch` inside the caller's transaction, checking the caps against `ledger` (which
    /// already counts this transaction's deletes) and counting the inserts in it.
    private func insert(_ batch: [MailboxEnvelopeDraft], _ ledger: inout UsageLedger, _ connection: SQLiteConnection) throws(StoreError) -> [EnqueueOutcome] {
        guard !batch.isEmpty else { return [] }
        var recipients = RecipientChecks()
        var outcomes: [EnqueueOutcome] = []
        outcomes.reserveCapacity(batch.count)
        for draft in batch {
            if let identity = draft.recipientIdentity,
               let refusal = try recipients.refusal(of: draft.sender, to: draft.recipient, identity: identity, connection) {
                outcomes.append(.refused(refusal))
                continue
            }
            let queue = QueueKey(recipient: draft.recipient, sender: draft.sender)
            let current = try ledger.usage(of: draft.recipient, connection)
            let fromSender = try ledger.usage(of: queue, connection)
            let totalBytes = try ledger.totalBytes(connection)
            if let refusal = limits.refusal(payloadBytes: draft.payload.count, joining: current, fromSender: fromSender, totalBytes: totalBytes) {
                outcomes.append(.refused(refusal))
                continue
            }
            try connection.execute(
                Statements.insert,
                [.username(draft.recipient), .username(draft.sender), .timestamp(draft.acceptedAt),
                 .integer(Int64(draft.payload.count)), .blob(draft.payload)])
            // AUTOINCREMENT rowids are positive, so the conversion is exact.
            let id = UInt64(clamping: connection.lastInsertRowID)
            ledger.add(queue, bytes: draft.payload.count)
            outcomes.append(.accepted(MailboxEnvelope(id: id, draft: draft)))
        }
        return outcomes
    }

    public func pending(for recipient: Username, after id: UInt64?, limit: Int) throws(StoreError) -> [MailboxEnvelope] {
        // Ids start at 1, so "after 0" is "from the start"; a cursor beyond SQLite's range has
        // nothing after it.
        guard limit > 0, let after = Int64(exactly: id ?? 0) else { return [] }
        return try database.withConnection { connection throws(StoreError) in
            try connection.query(
                Statements.pending,
                [.username(recipient), .integer(after), .integer(Int64(limit))]
            ) { row throws(StoreError) in
                MailboxEnvelope(
                    id: try row.envelopeID(0), sender: try row.username(1), recipient: recipient,
                    payload: try row.blob(3), acceptedAt: try row.timestamp(2))
            }
        }
    }

    public func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int {
        let rowIDs = Self.rowIDs(ids)
        guard !rowIDs.isEmpty else { return 0 }
        return try database.transaction { connection throws(StoreError) in
            var ledger = UsageLedger()
            let deleted = try Self.delete(rowIDs, for: recipient, &ledger, connection)
            try ledger.write(connection)
            return deleted
        }
    }

    /// Ids beyond SQLite's range were never handed out; duplicates are deleted once.
    private static func rowIDs(_ ids: [UInt64]) -> Set<Int64> {
        Set(ids.compactMap { Int64(exactly: $0) })
    }

    /// Deletes the recipient's envelopes among `rowIDs`, counting each in `ledger`.
    private static func delete(_ rowIDs: Set<Int64>, for recipient: Username, _ ledger: inout UsageLedger, _ connection: SQLiteConnection) throws(StoreError) -> Int {
        var deleted = 0
        for rowID in rowIDs {
            // Read, then delete by rowid: `DELETE ... RETURNING` would be one statement, but
            // SQLite gathers RETURNING rows in an ephemeral table, a zeroed 4 KiB page per
            // execution (callgrind: ~4,400 more instructions per acknowledged id than this).
            let found = try connection.queryFirst(Statements.find, [.integer(rowID), .username(recipient)]) { row throws(StoreError) -> (Username, Int) in
                (try row.username(0), Int(try row.integer(1)))
            }
            guard let (sender, size) = found else { continue }
            try connection.execute(Statements.delete, [.integer(rowID)])
            try ledger.remove(QueueKey(recipient: recipient, sender: sender), bytes: size, connection)
            deleted += 1
        }
        return deleted
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try database.transaction { connection throws(StoreError) in try Self.removeQueue(of: user, connection) }
    }

    /// Deletes every envelope waiting for `user` with its usage rows, and takes their bytes off
    /// the total, inside the caller's transaction (also the account deletion's).
    static func removeQueue(of user: Username, _ connection: SQLiteConnection) throws(StoreError) {
        let recipient: [SQLiteValue] = [.username(user)]
        // From the rows themselves (the covering index on (recipient, id, size)), not the usage row.
        let bytes = try connection.queryFirst(Statements.queueBytes, recipient) { row throws(StoreError) in try row.integer(0) } ?? 0
        try connection.execute(Statements.deleteQueue, recipient)
        try connection.execute(Statements.deleteQueueUsage, recipient)
        try connection.execute(Statements.deleteQueueSenderUsage, recipient)
        if bytes > 0 {
            try connection.execute(Statements.subtractTotal, [.integer(bytes)])
        }
    }

    public func usage(for recipient: Username) throws(StoreError) -> MailboxUsage {
        try database.withConnection { connection throws(StoreError) in try UsageLedger.stored(recipient, connection) }
    }

    /// The statements the store runs, named so that a test can check each one's query plan.
    enum Statements {
        static let insert = "INSERT INTO mailbox (recipient, sender, accepted_at, size, payload) VALUES (?, ?, ?, ?, ?)"
        static let pending = "SELECT id, sender, accepted_at, payload FROM mailbox WHERE recipient = ? AND id > ? ORDER BY id LIMIT ?"
        static let find = "SELECT sender, size FROM mailbox WHERE id = ? AND recipient = ?"
        static let delete = "DELETE FROM mailbox WHERE id = ?"
        static let queueBytes = "SELECT coalesce(sum(size), 0) FROM mailbox WHERE recipient = ?"
        static let deleteQueue = "DELETE FROM mailbox WHERE recipient = ?"
        static let deleteQueueUsage = "DELETE FROM mailbox_usage WHERE recipient = ?"
        static let deleteQueueSenderUsage = "DELETE FROM mailbox_sender_usage WHERE recipient = ?"
        static let subtractTotal = "UPDATE mailbox_total SET bytes = max(bytes - ?, 0) WHERE slot = 1"
        static let queueUsage = "SELECT count, bytes FROM mailbox_usage WHERE recipient = ?"
        static let senderUsage = "SELECT count, bytes FROM mailbox_sender_usage WHERE recipient = ? AND sender = ?"
        static let totalBytes = "SELECT bytes FROM mailbox_total WHERE slot = 1"
        static let setTotal = "UPDATE mailbox_total SET bytes = ? WHERE slot = 1"
        static let upsertQueueUsage = """
            INSERT INTO mailbox_usage (recipient, count, bytes) VALUES (?, ?, ?)
            ON CONFLICT (recipient) DO UPDATE SET count = excluded.count, bytes = excluded.bytes
            """
        static let upsertSenderUsage = """
            INSERT INTO mailbox_sender_usage (recipient, sender, count, bytes) VALUES (?, ?, ?, ?)
            ON CONFLICT (recipient, sender) DO UPDATE SET count = excluded.count, bytes = excluded.bytes
            """
        static let deleteSenderUsage = "DELETE FROM mailbox_sender_usage WHERE recipient = ? AND sender = ?"
        static let identityKey = "SELECT identity_key FROM accounts WHERE username = ?"
        static let isBlocked = "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?"

        /// Every statement that finds rows by a key (the inserts have no plan to check).
        static let keyed: [String] = [
            pending, find, delete, queueBytes, deleteQueue, deleteQueueUsage, deleteQueueSenderUsage, subtractTotal,
            queueUsage, senderUsage, totalBytes, setTotal, deleteSenderUsage, identityKey, isBlocked,
        ]
    }

    /// The recipient checks of one batch (account, identity key, block), read inside its
    /// transaction from the accounts and blocks tables, each at most once per recipient and per
    /// (recipient, sender).
    private struct RecipientChecks {
        /// The recipient's identity key bytes; nil when there is no such account.
        private var identityKeys: [Username: [UInt8]?] = [:]
        private var blocks: [[Username]: Bool] = [:]

        mutating func refusal(of sender: Username, to recipient: Username, identity: Ed25519PublicKey, _ connection: SQLiteConnection) throws(StoreError) -> MailboxRefusal? {
            let key: [UInt8]?
            if let known = identityKeys[recipient] {
                key = known
            } else {
                key = try connection.queryFirst(Statements.identityKey, [.username(recipient)]) { row throws(StoreError) in
                    try row.blob(0)
                }
                identityKeys[recipient] = .some(key)
            }
            guard let key else { return .unknownRecipient }
            guard key == identity.bytes else { return .recipientIdentityChanged }
            let pair = [recipient, sender]
            let blocked: Bool
            if let known = blocks[pair] {
                blocked = known
            } else {
                blocked = try connection.queryFirst(Statements.isBlocked, [.username(recipient), .username(sender)]) { _ in true } ?? false
                blocks[pair] = blocked
            }
            return blocked ? .blockedByRecipient : nil
        }
    }

}

/// One queue: a recipient and a sender writing to it.
private struct QueueKey: Hashable {
    let recipient: Username
    let sender: Username
}

/// The usage rows one transaction touches: each read once when first needed, changed in memory
/// by the transaction's inserts and deletes, and written once by ``write(_:)`` before the
/// transaction commits (a row whose count reaches zero is deleted). Only valid inside one
/// `BEGIN IMMEDIATE` transaction: no other writer can change the rows between the read and the
/// write.
private struct UsageLedger {
    private struct Entry {
        let stored: MailboxUsage
        var current: MailboxUsage
    }

    private var recipients: [Username: Entry] = [:]
    private var queues: [QueueKey: Entry] = [:]
    private var total: (stored: Int, current: Int)?

    mutating func usage(of recipient: Username, _ connection: SQLiteConnection) throws(StoreError) -> MailboxUsage {
        if let known = recipients[recipient] { return known.current }
        let stored = try Self.stored(recipient, connection)
        recipients[recipient] = Entry(stored: stored, current: stored)
        return stored
    }

    mutating func usage(of queue: QueueKey, _ connection: SQLiteConnection) throws(StoreError) -> MailboxUsage {
        if let known = queues[queue] { return known.current }
        let stored = try connection.queryFirst(
            SQLiteMailboxStore.Statements.senderUsage, [.username(queue.recipient), .username(queue.sender)]
        ) { row throws(StoreError) in
            MailboxUsage(count: Int(try row.integer(0)), bytes: Int(try row.integer(1)))
        } ?? .empty
        queues[queue] = Entry(stored: stored, current: stored)
        return stored
    }

    mutating func totalBytes(_ connection: SQLiteConnection) throws(StoreError) -> Int {
        if let total { return total.current }
        let stored = Int(try connection.queryFirst(SQLiteMailboxStore.Statements.totalBytes) { row throws(StoreError) in try row.integer(0) } ?? 0)
        total = (stored, stored)
        return stored
    }

    /// Counts an inserted envelope; the caller read the queue's three rows for the cap check.
    mutating func add(_ queue: QueueKey, bytes: Int) {
        recipients[queue.recipient]?.current.add(bytes)
        queues[queue]?.current.add(bytes)
        total?.current += bytes
    }

    /// Counts a deleted envelope, reading its rows first if this transaction has not yet.
    mutating func remove(_ queue: QueueKey, bytes: Int, _ connection: SQLiteConnection) throws(StoreError) {
        _ = try usage(of: queue.recipient, connection)
        _ = try usage(of: queue, connection)
        _ = try totalBytes(connection)
        recipients[queue.recipient]?.current.remove(bytes)
        queues[queue]?.current.remove(bytes)
        if let known = total { total = (known.stored, max(known.current - bytes, 0)) }
    }

    /// Writes every changed row.
    func write(_ connection: SQLiteConnection) throws(StoreError) {
        for (recipient, entry) in recipients where entry.current != entry.stored {
            if entry.current.count > 0 {
                try connection.execute(
                    SQLiteMailboxStore.Statements.upsertQueueUsage,
                    [.username(recipient), .integer(Int64(entry.current.count)), .integer(Int64(entry.current.bytes))])
            } else {
                try connection.execute(SQLiteMailboxStore.Statements.deleteQueueUsage, [.username(recipient)])
            }
        }
        for (queue, entry) in queues where entry.current != entry.stored {
            if entry.current.count > 0 {
                try connection.execute(
                    SQLiteMailboxStore.Statements.upsertSenderUsage,
                    [.username(queue.recipient), .username(queue.sender),
                     .integer(Int64(entry.current.count)), .integer(Int64(entry.current.bytes))])
            } else {
                try connection.execute(
                    SQLiteMailboxStore.Statements.deleteSenderUsage, [.username(queue.recipient), .username(queue.sender)])
            }
        }
        if let total, total.current != total.stored {
            try connection.execute(SQLiteMailboxStore.Statements.setTotal, [.integer(Int64(total.current))])
        }
    }

    /// A recipient's usage row as stored.
    static func stored(_ recipient: Username, _ connection: SQLiteConnection) throws(StoreError) -> MailboxUsage {
        try connection.queryFirst(SQLiteMailboxStore.Statements.queueUsage, [.username(recipient)]) { row throws(StoreError) in
            MailboxUsage(count: Int(try row.integer(0)), bytes: Int(try row.integer(1)))
        } ?? .empty
    }
}

private extension MailboxUsage {
    mutating func add(_ envelopeBytes: Int) {
        count += 1
        bytes += envelopeBytes
    }

    /// Never below empty, even if a row was altered behind the adapter's back.
    mutating func remove(_ envelopeBytes: Int) {
        count = Swift.max(count - 1, 0)
        bytes = Swift.max(bytes - envelopeBytes, 0)
    }
}
