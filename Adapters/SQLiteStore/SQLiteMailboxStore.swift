import Primitives
import ServerCore

/// ``MailboxStore`` over the server's SQLite file; vended by ``SQLiteServerStore``. Passes
/// `MailboxStoreContract`.
///
/// A batch is one `BEGIN IMMEDIATE ... COMMIT`, hence one fsync of the WAL however many envelopes
/// it carries (and, through ``commit(enqueue:acknowledge:)``, however many acknowledgements ride
/// along). The caps are checked in the same transaction from the covering index on (recipient, id,
/// size), once per distinct recipient in the batch, and from (recipient, sender, size) once per
/// distinct sender and recipient; later drafts are counted in memory. The total over all mailboxes
/// is one row kept by triggers (schema version 2), read once per batch. Drafts that name their
/// recipient's identity key are checked against the accounts and blocks tables in the same
/// transaction, once per distinct recipient and (recipient, sender) pair.
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
        return try database.transaction { connection throws(StoreError) in try insert(batch, connection) }
    }

    public func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        let acknowledged = acknowledgements.map { (rowIDs: Self.rowIDs($0.ids), recipient: $0.recipient) }.filter { !$0.rowIDs.isEmpty }
        guard !batch.isEmpty || !acknowledged.isEmpty else { return [] }
        return try database.transaction { connection throws(StoreError) in
            for acknowledgement in acknowledged {
                _ = try Self.delete(acknowledgement.rowIDs, for: acknowledgement.recipient, connection)
            }
            return try insert(batch, connection)
        }
    }

    /// Inserts `batch` inside the caller's transaction, checking the caps.
    private func insert(_ batch: [MailboxEnvelopeDraft], _ connection: SQLiteConnection) throws(StoreError) -> [EnqueueOutcome] {
        guard !batch.isEmpty else { return [] }
        var usage: [Username: MailboxUsage] = [:]
        var senderUsage: [[Username]: MailboxUsage] = [:]
        var totalBytes = try Self.totalBytes(connection)
        var recipients = RecipientChecks()
        var outcomes: [EnqueueOutcome] = []
        outcomes.reserveCapacity(batch.count)
        for draft in batch {
            if let identity = draft.recipientIdentity,
               let refusal = try recipients.refusal(of: draft.sender, to: draft.recipient, identity: identity, connection) {
                outcomes.append(.refused(refusal))
                continue
            }
            let current: MailboxUsage
            if let known = usage[draft.recipient] {
                current = known
            } else {
                current = try Self.usage(for: draft.recipient, connection)
            }
            let queue = [draft.recipient, draft.sender]
            let fromSender: MailboxUsage
            if let known = senderUsage[queue] {
                fromSender = known
            } else {
                fromSender = try Self.usage(for: draft.recipient, from: draft.sender, connection)
            }
            if let refusal = limits.refusal(payloadBytes: draft.payload.count, joining: current, fromSender: fromSender, totalBytes: totalBytes) {
                usage[draft.recipient] = current
                senderUsage[queue] = fromSender
                outcomes.append(.refused(refusal))
                continue
            }
            try connection.execute(
                "INSERT INTO mailbox (recipient, sender, accepted_at, size, payload) VALUES (?, ?, ?, ?, ?)",
                [.username(draft.recipient), .username(draft.sender), .timestamp(draft.acceptedAt),
                 .integer(Int64(draft.payload.count)), .blob(draft.payload)])
            // AUTOINCREMENT rowids are positive, so the conversion is exact.
            let id = UInt64(clamping: connection.lastInsertRowID)
            usage[draft.recipient] = MailboxUsage(count: current.count + 1, bytes: current.bytes + draft.payload.count)
            senderUsage[queue] = MailboxUsage(count: fromSender.count + 1, bytes: fromSender.bytes + draft.payload.count)
            totalBytes += draft.payload.count
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
                "SELECT id, sender, accepted_at, payload FROM mailbox WHERE recipient = ? AND id > ? ORDER BY id LIMIT ?",
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
        return try database.transaction { connection throws(StoreError) in try Self.delete(rowIDs, for: recipient, connection) }
    }

    /// Ids beyond SQLite's range were never handed out; duplicates are deleted once.
    private static func rowIDs(_ ids: [UInt64]) -> Set<Int64> {
        Set(ids.compactMap { Int64(exactly: $0) })
    }

    private static func delete(_ rowIDs: Set<Int64>, for recipient: Username, _ connection: SQLiteConnection) throws(StoreError) -> Int {
        var deleted = 0
        for rowID in rowIDs {
            deleted += try connection.execute(
                "DELETE FROM mailbox WHERE id = ? AND recipient = ?", [.integer(rowID), .username(recipient)])
        }
        return deleted
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM mailbox WHERE recipient = ?", [.username(user)])
        }
    }

    public func usage(for recipient: Username) throws(StoreError) -> MailboxUsage {
        try database.withConnection { connection throws(StoreError) in try Self.usage(for: recipient, connection) }
    }

    private static func usage(for recipient: Username, _ connection: SQLiteConnection) throws(StoreError) -> MailboxUsage {
        try connection.queryFirst(
            "SELECT count(*), coalesce(sum(size), 0) FROM mailbox WHERE recipient = ?", [.username(recipient)]
        ) { row throws(StoreError) in
            MailboxUsage(count: Int(try row.integer(0)), bytes: Int(try row.integer(1)))
        } ?? .empty
    }

    private static func usage(for recipient: Username, from sender: Username, _ connection: SQLiteConnection) throws(StoreError) -> MailboxUsage {
        try connection.queryFirst(
            "SELECT count(*), coalesce(sum(size), 0) FROM mailbox WHERE recipient = ? AND sender = ?",
            [.username(recipient), .username(sender)]
        ) { row throws(StoreError) in
            MailboxUsage(count: Int(try row.integer(0)), bytes: Int(try row.integer(1)))
        } ?? .empty
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
                key = try connection.queryFirst("SELECT identity_key FROM accounts WHERE username = ?", [.username(recipient)]) { row throws(StoreError) in
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
                blocked = try connection.queryFirst(
                    "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?", [.username(recipient), .username(sender)]
                ) { _ in true } ?? false
                blocks[pair] = blocked
            }
            return blocked ? .blockedByRecipient : nil
        }
    }

    private static func totalBytes(_ connection: SQLiteConnection) throws(StoreError) -> Int {
        Int(try connection.queryFirst("SELECT bytes FROM mailbox_total WHERE slot = 1") { row throws(StoreError) in try row.integer(0) } ?? 0)
    }
}
