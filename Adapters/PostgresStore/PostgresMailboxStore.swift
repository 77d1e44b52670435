import NIOCore
import PostgresNIO
import Primitives
import ServerCore

/// ``MailboxStore`` over PostgreSQL; vended by ``PostgresServerStore``. Passes
/// `MailboxStoreContract`. Blocks its thread until PostgreSQL answers (see ``PostgresServerStore``).
///
/// A batch (with the acknowledgements riding along) is one transaction, as in SQLite, of a fixed
/// number of round trips whatever its size: lock the heads, lock this node's total row, delete
/// the acknowledged envelopes, read the recipients' accounts and blocks (when a draft names an
/// identity key), read the queues' usage, then one statement that bumps the heads, inserts every
/// accepted envelope (`unnest` of arrays), writes the total row and `pg_notify`s each recipient
/// it wrote to (which ``PostgresEventBus`` on every other node takes as a hint to read that
/// mailbox).
///
/// Ids: the batch first locks the `mailbox_heads` rows of its recipients in username order (one
/// upsert, which also creates missing ones) and reads each recipient's last id; accepted drafts
/// take the next ids in batch order and the heads are set past them. So per recipient ids are
/// gapless and increase in commit order across nodes (a second writer waits for the head row
/// until the first commits or rolls back; see `PostgresServerStore.migrations`), and holding the
/// row while counting makes the per-recipient caps exact across nodes.
///
/// The server-wide byte total is split into one `mailbox_totals` row per node, each with an
/// *allowance*: the sum of the allowances never exceeds ``MailboxLimits/maxTotalBytes``, and a
/// node's batch locks only its own row and accepts while its own bytes stay within its own
/// allowance, so batches of different nodes never wait for each other on the total. When a draft
/// does not fit in this node's allowance, the batch starts again (rolled back) in *exact* mode:
/// it locks every node's row (after the heads, in node order), checks against the true total
/// (the sum of the rows) and shares what is left of the cap out evenly among the rows. So the cap
/// is as exact as with one total row: a draft is refused ``MailboxRefusal/serverFull`` only
/// against the true total, and the rows can never sum past the cap. (The nodes of one database
/// are meant to share one cap; a node with a smaller one still accepts within the allowance a
/// node with a larger one shared out, until it shares the cap out itself.) Near the cap the
/// allowances are small and batches take the exact path more often, which serialises them as
/// one row did; far from it (the usual case) they never do.
///
/// Drafts that name their recipient's identity key are checked against the accounts and blocks
/// tables in the same transaction: two queries per batch (the recipients' identity keys, read
/// `FOR KEY SHARE` so that no other node can delete the account until the batch commits, and the
/// blocks between the batch's recipients and senders). An account deletion locks the user's head
/// row before deleting their mail, so it either waits for the batch and deletes its envelopes, or
/// the batch waits for it, sees the account gone and refuses ``MailboxRefusal/unknownRecipient``.
///
/// Lock order, for every transaction: head rows (username order), then total rows (node order),
/// then account rows; so no two of them can deadlock.
public struct PostgresMailboxStore: MailboxStore {
    let pool: PostgresConnectionPool
    /// The caps every recipient's queue is held to.
    public let limits: MailboxLimits
    let nodeID: String

    public func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome] {
        try commit(enqueue: batch, acknowledge: [])
    }

    public func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        let acknowledged = Self.pairs(acknowledgements)
        guard !batch.isEmpty || !acknowledged.recipients.isEmpty else { return [] }
        return try pool.transaction { session throws(StoreError) -> [EnqueueOutcome] in
            if let outcomes = try write(batch, acknowledging: acknowledged, exactTotal: false, session) { return outcomes }
            // A draft did not fit in this node's allowance: start again against the true total.
            try session.execute("ROLLBACK")
            try session.execute("BEGIN")
            guard let outcomes = try write(batch, acknowledging: acknowledged, exactTotal: true, session) else {
                throw .corrupt("an exact mailbox batch asked for the exact total again")
            }
            return outcomes
        }
    }

    /// One node's row of the byte total.
    private struct TotalRow {
        let node: String
        /// The bytes this node added, less those it deleted (negative when it deleted more).
        var bytes: Int64
        /// The most `bytes` may reach before this node must share the cap out again.
        var allowance: Int64
    }

    /// The batch's work inside the caller's transaction; nil (having written nothing) when, not
    /// `exactTotal`, a draft does not fit in this node's allowance.
    private func write(
        _ batch: [MailboxEnvelopeDraft], acknowledging acknowledged: (recipients: [String], ids: [Int64]), exactTotal: Bool, _ session: PostgresSession
    ) throws(StoreError) -> [EnqueueOutcome]? {
        var heads = try Self.lockHeads(of: batch, session)
        var rows = exactTotal ? try lockTotals(session) : [try lockOwnTotal(session)]
        guard let own = rows.firstIndex(where: { $0.node == nodeID }) else { throw .corrupt("this node's mailbox total row is missing") }
        let freed = try Self.delete(acknowledged, session).bytes
        rows[own].bytes -= Int64(freed)
        // What the caps are checked against: the true total, or (this node's row alone) the cap
        // less what is left of this node's allowance.
        var totalBytes = exactTotal
            ? Int(rows.reduce(Int64(0)) { $0 + $1.bytes })
            : limits.maxTotalBytes - Int(rows[own].allowance - rows[own].bytes)
        var stored = StoredRows()
        var outcomes: [EnqueueOutcome] = []
        outcomes.reserveCapacity(batch.count)
        if !batch.isEmpty {
            let recipients = try RecipientChecks(of: batch, session)
            var usage = try QueueUsage(of: batch.filter { recipients.refusal(of: $0) == nil }, session)
            for draft in batch {
                if let refusal = recipients.refusal(of: draft) {
                    outcomes.append(.refused(refusal))
                    continue
                }
                let queue = QueueUsage.Queue(recipient: draft.recipient.value, sender: draft.sender.value)
                if let refusal = limits.refusal(
                    payloadBytes: draft.payload.count, joining: usage.recipients[queue.recipient, default: .empty],
                    fromSender: usage.queues[queue, default: .empty], totalBytes: totalBytes
                ) {
                    if refusal == .serverFull && !exactTotal { return nil }
                    outcomes.append(.refused(refusal))
                    continue
                }
                guard let last = heads[queue.recipient], let id = UInt64(exactly: last + 1) else {
                    throw .corrupt("the mailbox head of \(draft.recipient) is missing or out of range")
                }
                heads[queue.recipient] = last + 1
                usage.add(draft.payload.count, to: queue)
                totalBytes += draft.payload.count
                rows[own].bytes += Int64(draft.payload.count)
                stored.append(draft, id: last + 1)
                outcomes.append(.accepted(MailboxEnvelope(id: id, draft: draft)))
            }
        }
        if exactTotal { shareOut(&rows, own: own) }
        let changed = exactTotal || !stored.recipients.isEmpty || freed != 0
        if changed { try Self.store(stored, heads: heads, totals: exactTotal ? rows : [rows[own]], from: nodeID, session) }
        return outcomes
    }

    /// Sets every row's allowance to its bytes plus an even share of what is left of the cap (the
    /// remainder to this node), so that the allowances sum to the cap.
    private func shareOut(_ rows: inout [TotalRow], own: Int) {
        let total = rows.reduce(Int64(0)) { $0 + $1.bytes }
        let left = max(0, Int64(limits.maxTotalBytes) - total)
        let share = left / Int64(rows.count)
        for index in rows.indices { rows[index].allowance = rows[index].bytes + share }
        rows[own].allowance += left % Int64(rows.count)
    }

    /// Creates any missing head rows of the batch's recipients and locks them all, in username
    /// order (one order for every transaction, so two batches cannot deadlock on them), returning
    /// each one's last id.
    private static func lockHeads(of batch: [MailboxEnvelopeDraft], _ session: PostgresSession) throws(StoreError) -> [String: Int64] {
        let recipients = Set(batch.map(\.recipient.value)).sorted()
        guard !recipients.isEmpty else { return [:] }
        let rows = try session.query(
            """
            INSERT INTO mailbox_heads AS head (recipient)
            SELECT recipient FROM unnest(\(recipients)::text[]) AS batch (recipient) ORDER BY recipient COLLATE "C"
            ON CONFLICT (recipient) DO UPDATE SET last_id = head.last_id
            RETURNING recipient, last_id
            """)
        var heads: [String: Int64] = [:]
        for row in rows {
            let (recipient, last) = try row.values((String, Int64).self)
            heads[recipient] = last
        }
        return heads
    }

    /// Locks this node's total row (creating it when missing) and returns it.
    private func lockOwnTotal(_ session: PostgresSession) throws(StoreError) -> TotalRow {
        let rows = try session.query(
            """
            INSERT INTO mailbox_totals AS total (node, bytes, allowance) VALUES (\(nodeID), 0, 0)
            ON CONFLICT (node) DO UPDATE SET bytes = total.bytes
            RETURNING bytes, allowance
            """)
        guard let row = rows.first else { throw .corrupt("this node's mailbox total row is missing") }
        let (bytes, allowance) = try row.values((Int64, Int64).self)
        return TotalRow(node: nodeID, bytes: bytes, allowance: allowance)
    }

    /// Locks every node's total row, in node order, and returns them (this node's too, new when
    /// it had none).
    private func lockTotals(_ session: PostgresSession) throws(StoreError) -> [TotalRow] {
        var rows: [TotalRow] = []
        for row in try session.query("SELECT node, bytes, allowance FROM mailbox_totals ORDER BY node FOR UPDATE") {
            let (node, bytes, allowance) = try row.values((String, Int64, Int64).self)
            rows.append(TotalRow(node: node, bytes: bytes, allowance: allowance))
        }
        if !rows.contains(where: { $0.node == nodeID }) { rows.append(TotalRow(node: nodeID, bytes: 0, allowance: 0)) }
        return rows
    }

    /// The accepted envelopes of a batch, as the columns `store` binds.
    private struct StoredRows {
        var recipients: [String] = []
        var ids: [Int64] = []
        var senders: [String] = []
        var acceptedAt: [Int64] = []
        var sizes: [Int32] = []
        var payloads: [ByteBuffer] = []

        mutating func append(_ draft: MailboxEnvelopeDraft, id: Int64) {
            recipients.append(draft.recipient.value)
            ids.append(id)
            senders.append(draft.sender.value)
            acceptedAt.append(draft.acceptedAt.millisecondsSinceEpoch)
            sizes.append(Int32(draft.payload.count))
            payloads.append(draft.payload.bytea)
        }
    }

    /// One statement: sets the heads, inserts the accepted envelopes, writes the total rows and
    /// notifies each recipient written to.
    private static func store(_ stored: StoredRows, heads: [String: Int64], totals: [TotalRow], from node: String, _ session: PostgresSession) throws(StoreError) {
        let bumped = Set(stored.recipients).sorted()
        let lastIDs = bumped.map { heads[$0] ?? 0 }
        let hints = try bumped.map { recipient throws(StoreError) in PostgresEventBus.mailHint(for: try PostgresDecoding.username(recipient), from: node) }
        try session.execute(
            """
            WITH bumped AS (
                UPDATE mailbox_heads AS head SET last_id = bump.last_id
                FROM unnest(\(bumped)::text[], \(lastIDs)::bigint[]) AS bump (recipient, last_id)
                WHERE head.recipient = bump.recipient),
            totals AS (
                INSERT INTO mailbox_totals AS total (node, bytes, allowance)
                SELECT * FROM unnest(\(totals.map(\.node))::text[], \(totals.map(\.bytes))::bigint[], \(totals.map(\.allowance))::bigint[])
                ON CONFLICT (node) DO UPDATE SET bytes = excluded.bytes, allowance = excluded.allowance),
            stored AS (
                INSERT INTO mailbox (recipient, id, sender, accepted_at, size, payload)
                SELECT * FROM unnest(
                    \(stored.recipients)::text[], \(stored.ids)::bigint[], \(stored.senders)::text[], \(stored.acceptedAt)::bigint[],
                    \(stored.sizes)::integer[], \(stored.payloads)::bytea[]))
            SELECT pg_notify(\(PostgresEventBus.channel), hint) FROM unnest(\(hints)::text[]) AS hint
            """)
    }

    /// How full the queues a batch writes to are: per recipient, and per (recipient, sender).
    private struct QueueUsage {
        struct Queue: Hashable {
            let recipient: String
            let sender: String
        }

        var recipients: [String: MailboxUsage] = [:]
        var queues: [Queue: MailboxUsage] = [:]

        /// Reads both in one query, inside the caller's transaction (after the heads are locked).
        init(of drafts: [MailboxEnvelopeDraft], _ session: PostgresSession) throws(StoreError) {
            guard !drafts.isEmpty else { return }
            let recipientNames = Set(drafts.map(\.recipient.value)).sorted()
            let pairs = Set(drafts.map { Queue(recipient: $0.recipient.value, sender: $0.sender.value) })
            let rows = try session.query(
                """
                SELECT recipient, NULL::text, count(*), coalesce(sum(size), 0)::bigint FROM mailbox
                WHERE recipient = ANY(\(recipientNames)::text[]) GROUP BY recipient
                UNION ALL
                SELECT mailbox.recipient, mailbox.sender, count(*), coalesce(sum(mailbox.size), 0)::bigint
                FROM mailbox JOIN unnest(\(pairs.map(\.recipient))::text[], \(pairs.map(\.sender))::text[]) AS queue (recipient, sender)
                    ON mailbox.recipient = queue.recipient AND mailbox.sender = queue.sender
                GROUP BY mailbox.recipient, mailbox.sender
                """)
            for row in rows {
                let (recipient, sender, count, bytes) = try row.values((String, String?, Int64, Int64).self)
                let usage = MailboxUsage(count: Int(count), bytes: Int(bytes))
                if let sender { queues[Queue(recipient: recipient, sender: sender)] = usage } else { recipients[recipient] = usage }
            }
        }

        mutating func add(_ bytes: Int, to queue: Queue) {
            let recipient = recipients[queue.recipient, default: .empty]
            recipients[queue.recipient] = MailboxUsage(count: recipient.count + 1, bytes: recipient.bytes + bytes)
            let fromSender = queues[queue, default: .empty]
            queues[queue] = MailboxUsage(count: fromSender.count + 1, bytes: fromSender.bytes + bytes)
        }
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

    /// One statement (its own transaction): deletes the envelopes and takes their bytes off this
    /// node's total row. It needs no head lock: a batch counting the queue meanwhile can only see
    /// it fuller than it ends up.
    public func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int {
        let rowIDs = Self.rowIDs(ids)
        guard !rowIDs.isEmpty else { return 0 }
        return try pool.withSession { session throws(StoreError) -> Int in
            let rows = try session.query(
                """
                WITH gone AS (DELETE FROM mailbox WHERE recipient = \(recipient.value) AND id = ANY(\(rowIDs)::bigint[]) RETURNING size),
                freed AS (SELECT count(*) AS count, coalesce(sum(size), 0)::bigint AS bytes FROM gone),
                total AS (
                    INSERT INTO mailbox_totals AS total (node, bytes, allowance) SELECT \(nodeID), -bytes, 0 FROM freed WHERE bytes <> 0
                    ON CONFLICT (node) DO UPDATE SET bytes = total.bytes + excluded.bytes)
                SELECT count FROM freed
                """)
            return Int(try rows.first?.value(Int64.self) ?? 0)
        }
    }

    /// Ids beyond bigint were never handed out; duplicates are deleted once.
    private static func rowIDs(_ ids: [UInt64]) -> [Int64] {
        Array(Set(ids.compactMap { Int64(exactly: $0) })).sorted()
    }

    /// The acknowledgements as (recipient, id) columns, each envelope once.
    private static func pairs(_ acknowledgements: [MailboxAcknowledgement]) -> (recipients: [String], ids: [Int64]) {
        var seen = Set<[String]>()
        var pairs: (recipients: [String], ids: [Int64]) = ([], [])
        for acknowledgement in acknowledgements {
            for id in rowIDs(acknowledgement.ids) where seen.insert([acknowledgement.recipient.value, String(id)]).inserted {
                pairs.recipients.append(acknowledgement.recipient.value)
                pairs.ids.append(id)
            }
        }
        return pairs
    }

    /// Deletes the acknowledged envelopes inside the caller's transaction (the caller writes the
    /// total), in one statement.
    private static func delete(_ acknowledged: (recipients: [String], ids: [Int64]), _ session: PostgresSession) throws(StoreError) -> MailboxUsage {
        guard !acknowledged.recipients.isEmpty else { return .empty }
        let rows = try session.query(
            """
            WITH gone AS (
                DELETE FROM mailbox USING unnest(\(acknowledged.recipients)::text[], \(acknowledged.ids)::bigint[]) AS acknowledged (recipient, id)
                WHERE mailbox.recipient = acknowledged.recipient AND mailbox.id = acknowledged.id RETURNING mailbox.size)
            SELECT count(*), coalesce(sum(size), 0)::bigint FROM gone
            """)
        let (count, bytes) = try rows.first?.values((Int64, Int64).self) ?? (Int64(0), Int64(0))
        return MailboxUsage(count: Int(count), bytes: Int(bytes))
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try pool.transaction { session throws(StoreError) in try Self.deleteAll(for: user, node: nodeID, session) }
    }

    /// Deletes every envelope addressed to `user` inside the caller's transaction, taking their
    /// bytes off `node`'s total row. It first locks `user`'s head row (creating it when missing),
    /// as a batch for `user` does, and deletes in the next statement: so a batch committing
    /// meanwhile either committed before (and its envelopes are deleted here) or waits for this
    /// transaction. The head row stays, so `user`'s ids are never reused.
    static func deleteAll(for user: Username, node: String, _ session: PostgresSession) throws(StoreError) {
        try session.execute(
            "INSERT INTO mailbox_heads AS head (recipient) VALUES (\(user.value)) ON CONFLICT (recipient) DO UPDATE SET last_id = head.last_id")
        try session.execute(
            """
            WITH gone AS (DELETE FROM mailbox WHERE recipient = \(user.value) RETURNING size),
            freed AS (SELECT coalesce(sum(size), 0)::bigint AS bytes FROM gone)
            INSERT INTO mailbox_totals AS total (node, bytes, allowance) SELECT \(node), -bytes, 0 FROM freed WHERE bytes <> 0
            ON CONFLICT (node) DO UPDATE SET bytes = total.bytes + excluded.bytes
            """)
    }

    public func usage(for recipient: Username) throws(StoreError) -> MailboxUsage {
        try pool.withSession { session throws(StoreError) -> MailboxUsage in
            let rows = try session.query("SELECT count(*), coalesce(sum(size), 0)::bigint FROM mailbox WHERE recipient = \(recipient.value)")
            let (count, bytes) = try rows.first?.values((Int64, Int64).self) ?? (Int64(0), Int64(0))
            return MailboxUsage(count: Int(count), bytes: Int(bytes))
        }
    }
}
