import NIOCore
import PostgresNIO
import Primitives
import ServerCore

/// ``MailboxStore`` over PostgreSQL; vended by ``PostgresServerStore``. Passes
/// `MailboxStoreContract`. Blocks its thread until PostgreSQL answers (see ``PostgresServerStore``).
///
/// A batch (with the acknowledgements riding along) is one transaction, as in SQLite. It first
/// locks the `mailbox_heads` rows of its recipients in username order, then the `mailbox_total`
/// row; only then does it draw ids, check the caps and insert. A recipient's ids are its own:
/// each accepted draft bumps its head row (`UPDATE ... SET last_id = last_id + 1 RETURNING`), so
/// per recipient they are gapless and increase in commit order across nodes (a second writer
/// waits for the head row until the first commits or rolls back; see
/// `PostgresServerStore.migrations`), and holding the row while counting makes the
/// per-recipient caps exact across nodes. The transaction also `pg_notify`s each recipient it wrote to, which
/// ``PostgresEventBus`` on every other node takes as a hint to read that mailbox.
///
/// Drafts that name their recipient's identity key are checked against the accounts and blocks
/// tables in the same transaction, after the total is locked: two queries per batch (the
/// recipients' identity keys, read `FOR KEY SHARE` so that no other node can delete the account
/// until the batch commits, and the blocks between the batch's recipients and senders). An
/// account deletion also locks the total first, so it either sees the batch's envelopes and
/// deletes them, or the batch sees the account gone and refuses ``MailboxRefusal/unknownRecipient``.
public struct PostgresMailboxStore: MailboxStore {
    let pool: PostgresConnectionPool
    /// The caps every recipient's queue is held to.
    public let limits: MailboxLimits
    let nodeID: String

    public func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome] {
        try commit(enqueue: batch, acknowledge: [])
    }

    public func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        let acknowledged = acknowledgements.map { (ids: Self.rowIDs($0.ids), recipient: $0.recipient) }.filter { !$0.ids.isEmpty }
        guard !batch.isEmpty || !acknowledged.isEmpty else { return [] }
        return try pool.transaction { session throws(StoreError) -> [EnqueueOutcome] in
            try Self.lockHeads(of: batch, session)
            var totalBytes = try Self.lockTotal(session)
            let before = totalBytes
            for acknowledgement in acknowledged {
                totalBytes -= try Self.delete(acknowledgement.ids, for: acknowledgement.recipient, session).bytes
            }
            let outcomes = try insert(batch, totalBytes: &totalBytes, session)
            if totalBytes != before { try Self.setTotal(totalBytes, session) }
            var notified = Set<Username>()
            for case .accepted(let envelope) in outcomes where notified.insert(envelope.recipient).inserted {
                try session.execute("SELECT pg_notify(\(PostgresEventBus.channel), \(PostgresEventBus.mailHint(for: envelope.recipient, from: nodeID)))")
            }
            return outcomes
        }
    }

    /// Creates any missing head rows of the batch's recipients and locks them all, in username
    /// order (one order for every transaction, so two batches cannot deadlock on them).
    private static func lockHeads(of batch: [MailboxEnvelopeDraft], _ session: PostgresSession) throws(StoreError) {
        let recipients = Set(batch.map(\.recipient.value)).sorted()
        guard !recipients.isEmpty else { return }
        try session.execute(
            """
            INSERT INTO mailbox_heads (recipient)
            SELECT recipient FROM unnest(\(recipients)::text[]) AS batch (recipient) ORDER BY recipient COLLATE "C"
            ON CONFLICT DO NOTHING
            """)
        try session.execute(
            "SELECT recipient FROM mailbox_heads WHERE recipient = ANY(\(recipients)::text[]) ORDER BY recipient FOR UPDATE")
    }

    /// Locks the server-wide byte total and returns it.
    private static func lockTotal(_ session: PostgresSession) throws(StoreError) -> Int {
        let rows = try session.query("SELECT bytes FROM mailbox_total WHERE slot = 1 FOR UPDATE")
        guard let row = rows.first else { throw .corrupt("the mailbox total row is missing") }
        return Int(try row.value(Int64.self))
    }

    private static func setTotal(_ bytes: Int, _ session: PostgresSession) throws(StoreError) {
        try session.execute("UPDATE mailbox_total SET bytes = \(Int64(bytes)) WHERE slot = 1")
    }

    /// Inserts `batch` inside the caller's transaction (heads and total locked), checking the caps.
    private func insert(_ batch: [MailboxEnvelopeDraft], totalBytes: inout Int, _ session: PostgresSession) throws(StoreError) -> [EnqueueOutcome] {
        var usage: [Username: MailboxUsage] = [:]
        var senderUsage: [[Username]: MailboxUsage] = [:]
        let recipients = try RecipientChecks(of: batch, session)
        var outcomes: [EnqueueOutcome] = []
        outcomes.reserveCapacity(batch.count)
        for draft in batch {
            if let refusal = recipients.refusal(of: draft) {
                outcomes.append(.refused(refusal))
                continue
            }
            let current: MailboxUsage
            if let known = usage[draft.recipient] { current = known } else { current = try Self.usage(for: draft.recipient, session) }
            let queue = [draft.recipient, draft.sender]
            let fromSender: MailboxUsage
            if let known = senderUsage[queue] { fromSender = known } else { fromSender = try Self.usage(for: draft.recipient, from: draft.sender, session) }
            if let refusal = limits.refusal(payloadBytes: draft.payload.count, joining: current, fromSender: fromSender, totalBytes: totalBytes) {
                usage[draft.recipient] = current
                senderUsage[queue] = fromSender
                outcomes.append(.refused(refusal))
                continue
            }
            let rows = try session.query(
                """
                WITH head AS (
                    UPDATE mailbox_heads SET last_id = last_id + 1 WHERE recipient = \(draft.recipient.value) RETURNING last_id)
                INSERT INTO mailbox (recipient, id, sender, accepted_at, size, payload)
                SELECT \(draft.recipient.value), last_id, \(draft.sender.value), \(draft.acceptedAt.millisecondsSinceEpoch),
                       \(Int32(draft.payload.count)), \(draft.payload.bytea) FROM head
                RETURNING id
                """)
            guard let row = rows.first else { throw .corrupt("the mailbox head of \(draft.recipient) vanished inside its transaction") }
            let id = try PostgresDecoding.envelopeID(try row.value(Int64.self))
            usage[draft.recipient] = MailboxUsage(count: current.count + 1, bytes: current.bytes + draft.payload.count)
            senderUsage[queue] = MailboxUsage(count: fromSender.count + 1, bytes: fromSender.bytes + draft.payload.count)
            totalBytes += draft.payload.count
            outcomes.append(.accepted(MailboxEnvelope(id: id, draft: draft)))
        }
        return outcomes
    }

    /// The recipient checks of one batch (account, identity key, block), read inside its
    /// transaction for the drafts that name an identity key.
    private struct RecipientChecks {
        /// The identity key bytes of each checked recipient that has an account.
        private var identityKeys: [Username: [UInt8]] = [:]
        /// (blocker, blocked) pairs among the checked recipients and their senders.
        private var blocks: Set<[Username]> = []

        init(of batch: [MailboxEnvelopeDraft], _ session: PostgresSession) throws(StoreError) {
            let checked = batch.filter { $0.recipientIdentity != nil }
            guard !checked.isEmpty else { return }
            let recipients = Set(checked.map(\.recipient.value)).sorted()
            let senders = Set(checked.map(\.sender.value)).sorted()
            // Key share: blocks a concurrent DELETE of the account (or a change of its name) until
            // this batch commits, but not the login-throttle updates of the same row.
            let accounts = try session.query(
                """
                SELECT username, identity_key FROM accounts WHERE username = ANY(\(recipients)::text[])
                ORDER BY username FOR KEY SHARE
                """)
            for row in accounts {
                let (name, key) = try row.values((String, ByteBuffer).self)
                identityKeys[try PostgresDecoding.username(name)] = key.bytes
            }
            let blocked = try session.query(
                "SELECT blocker, blocked FROM blocks WHERE blocker = ANY(\(recipients)::text[]) AND blocked = ANY(\(senders)::text[])")
            for row in blocked {
                let (blocker, blockedName) = try row.values((String, String).self)
                blocks.insert([try PostgresDecoding.username(blocker), try PostgresDecoding.username(blockedName)])
            }
        }

        func refusal(of draft: MailboxEnvelopeDraft) -> MailboxRefusal? {
            guard let identity = draft.recipientIdentity else { return nil }
            guard let key = identityKeys[draft.recipient] else { return .unknownRecipient }
            guard key == identity.bytes else { return .recipientIdentityChanged }
            return blocks.contains([draft.recipient, draft.sender]) ? .blockedByRecipient : nil
        }
    }

    public func pending(for recipient: Username, after id: UInt64?, limit: Int) throws(StoreError) -> [MailboxEnvelope] {
        // Ids start at 1, so "after 0" is "from the start"; a cursor beyond bigint has nothing after it.
        guard limit > 0, let after = Int64(exactly: id ?? 0) else { return [] }
        return try pool.withSession { session throws(StoreError) -> [MailboxEnvelope] in
            let rows = try session.query(
                """
                SELECT id, sender, accepted_at, payload FROM mailbox WHERE recipient = \(recipient.value) AND id > \(after)
                ORDER BY id LIMIT \(Int64(limit))
                """)
            var envelopes: [MailboxEnvelope] = []
            envelopes.reserveCapacity(rows.count)
            for row in rows {
                let (id, sender, acceptedAt, payload) = try row.values((Int64, String, Int64, ByteBuffer).self)
                envelopes.append(MailboxEnvelope(
                    id: try PostgresDecoding.envelopeID(id), sender: try PostgresDecoding.username(sender), recipient: recipient,
                    payload: payload.bytes, acceptedAt: Timestamp(millisecondsSinceEpoch: acceptedAt)))
            }
            return envelopes
        }
    }

    public func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int {
        let rowIDs = Self.rowIDs(ids)
        guard !rowIDs.isEmpty else { return 0 }
        return try pool.transaction { session throws(StoreError) -> Int in
            let total = try Self.lockTotal(session)
            let deleted = try Self.delete(rowIDs, for: recipient, session)
            if deleted.bytes != 0 { try Self.setTotal(total - deleted.bytes, session) }
            return deleted.count
        }
    }

    /// Ids beyond bigint were never handed out; duplicates are deleted once.
    private static func rowIDs(_ ids: [UInt64]) -> [Int64] {
        Array(Set(ids.compactMap { Int64(exactly: $0) })).sorted()
    }

    private static func delete(_ ids: [Int64], for recipient: Username, _ session: PostgresSession) throws(StoreError) -> MailboxUsage {
        let rows = try session.query(
            """
            WITH gone AS (DELETE FROM mailbox WHERE recipient = \(recipient.value) AND id = ANY(\(ids)::bigint[]) RETURNING size)
            SELECT count(*), coalesce(sum(size), 0)::bigint FROM gone
            """)
        let (count, bytes) = try rows.first?.values((Int64, Int64).self) ?? (Int64(0), Int64(0))
        return MailboxUsage(count: Int(count), bytes: Int(bytes))
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try pool.transaction { session throws(StoreError) in try Self.deleteAll(for: user, session) }
    }

    /// Deletes every envelope addressed to `user` inside the caller's transaction, adjusting the
    /// total. The head row stays, so `user`'s ids are never reused.
    static func deleteAll(for user: Username, _ session: PostgresSession) throws(StoreError) {
        let total = try lockTotal(session)
        let rows = try session.query(
            "WITH gone AS (DELETE FROM mailbox WHERE recipient = \(user.value) RETURNING size) SELECT coalesce(sum(size), 0)::bigint FROM gone")
        let bytes = Int(try rows.first?.value(Int64.self) ?? Int64(0))
        if bytes != 0 { try setTotal(total - bytes, session) }
    }

    public func usage(for recipient: Username) throws(StoreError) -> MailboxUsage {
        try pool.withSession { session throws(StoreError) in try Self.usage(for: recipient, session) }
    }

    private static func usage(for recipient: Username, _ session: PostgresSession) throws(StoreError) -> MailboxUsage {
        let rows = try session.query("SELECT count(*), coalesce(sum(size), 0)::bigint FROM mailbox WHERE recipient = \(recipient.value)")
        let (count, bytes) = try rows.first?.values((Int64, Int64).self) ?? (Int64(0), Int64(0))
        return MailboxUsage(count: Int(count), bytes: Int(bytes))
    }

    private static func usage(for recipient: Username, from sender: Username, _ session: PostgresSession) throws(StoreError) -> MailboxUsage {
        let rows = try session.query(
            "SELECT count(*), coalesce(sum(size), 0)::bigint FROM mailbox WHERE recipient = \(recipient.value) AND sender = \(sender.value)")
        let (count, bytes) = try rows.first?.values((Int64, Int64).self) ?? (Int64(0), Int64(0))
        return MailboxUsage(count: Int(count), bytes: Int(bytes))
    }
}
