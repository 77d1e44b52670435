import Accounts
import Primitives
import SQLiteStore
import ServerCore
import Testing

/// Schema 5's usage rows (one per recipient's queue, one per (recipient, sender), and the total),
/// kept by the mailbox store once per transaction instead of by scans and triggers: migrated
/// from schema 4's data, and always equal to what the mailbox rows add up to.
@Suite("SQLite mailbox usage rows")
struct SQLiteMailboxUsageTests {
    /// What the usage tables say, and what the mailbox rows add up to, as comparable rows.
    private struct Accounting: Equatable, CustomStringConvertible {
        let queues: [[RawSQLite.Value]]
        let senders: [[RawSQLite.Value]]
        let total: [[RawSQLite.Value]]

        var description: String { "queues \(queues), senders \(senders), total \(total)" }

        static func stored(at path: String) throws -> Accounting {
            Accounting(
                queues: try RawSQLite.query("SELECT recipient, count, bytes FROM mailbox_usage ORDER BY recipient", onDatabaseAt: path),
                senders: try RawSQLite.query(
                    "SELECT recipient, sender, count, bytes FROM mailbox_sender_usage ORDER BY recipient, sender", onDatabaseAt: path),
                total: try RawSQLite.query("SELECT bytes FROM mailbox_total", onDatabaseAt: path))
        }

        static func recomputed(at path: String) throws -> Accounting {
            Accounting(
                queues: try RawSQLite.query(
                    "SELECT recipient, count(*), sum(size) FROM mailbox GROUP BY recipient ORDER BY recipient", onDatabaseAt: path),
                senders: try RawSQLite.query(
                    "SELECT recipient, sender, count(*), sum(size) FROM mailbox GROUP BY recipient, sender ORDER BY recipient, sender",
                    onDatabaseAt: path),
                total: try RawSQLite.query("SELECT coalesce(sum(size), 0) FROM mailbox", onDatabaseAt: path))
        }
    }

    private static func user(_ name: String) throws -> Username { try Username(name) }

    private static func draft(_ sender: String, _ recipient: String, _ bytes: Int) throws -> MailboxEnvelopeDraft {
        MailboxEnvelopeDraft(
            sender: try user(sender), recipient: try user(recipient), payload: [UInt8](repeating: 0x5a, count: bytes),
            acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))
    }

    private static func acceptedIDs(_ outcomes: [EnqueueOutcome]) -> [UInt64] {
        outcomes.compactMap { if case .accepted(let envelope) = $0 { envelope.id } else { nil } }
    }

    /// A schema 4 file exactly as the build before schema 5 made it (its four migrations'
    /// statements, and mail inserted with its INSERT, the schema 4 triggers keeping the total),
    /// with mail waiting for two recipients from three senders. Opening it migrates to schema 5
    /// (and on to the latest): the usage rows are the old queues' sums, the caps count the old
    /// mail, and acknowledging old mail takes it off the rows.
    @Test func schemaFourMailIsCountedAfterTheMigration() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try RawSQLite.execute(
            ServerSchemaHistory.schema(upTo: 4) + """

            INSERT INTO mailbox (recipient, sender, accepted_at, size, payload) VALUES
                ('bob', 'alice', 1, 3, x'010203'), ('bob', 'alice', 2, 2, x'0405'), ('bob', 'carol', 3, 1, x'06'),
                ('dave', 'alice', 4, 4, x'07080910');
            """, onDatabaseAt: path)

        // bob's queue is at 3 envelopes; alice's share of it at 2.
        let limits = MailboxLimits(maxEnvelopes: 4, maxBytes: 1_000, maxEnvelopesPerSender: 2)
        let store = try SQLiteServerStore(path: path, mailboxLimits: limits)
        defer { store.close() }
        #expect(try store.schemaVersion() == SQLiteServerStore.latestSchemaVersion)
        let bob = try Self.user("bob")
        #expect(try store.mailbox.usage(for: bob) == MailboxUsage(count: 3, bytes: 6))
        #expect(try store.mailbox.usage(for: Self.user("dave")) == MailboxUsage(count: 1, bytes: 4))
        #expect(try Accounting.stored(at: path) == Accounting.recomputed(at: path))
        #expect(try RawSQLite.query("SELECT bytes FROM mailbox_total", onDatabaseAt: path) == [[.integer(10)]])
        // The old per-sender index and the triggers are gone: the store keeps the rows itself.
        #expect(try RawSQLite.query(
            "SELECT name FROM sqlite_schema WHERE name IN ('mailbox_by_sender', 'mailbox_total_insert', 'mailbox_total_delete')",
            onDatabaseAt: path).isEmpty)

        // The caps see the migrated mail: alice's share is full, carol's is not, then bob's queue is.
        let outcomes = try store.mailbox.enqueue([
            try Self.draft("alice", "bob", 1), try Self.draft("carol", "bob", 1), try Self.draft("erin", "bob", 1),
        ])
        #expect(outcomes.count == 3)
        #expect(outcomes[0] == .refused(.senderShareFull(envelopes: 2, bytes: limits.maxBytesPerSender)))
        #expect(Self.acceptedIDs([outcomes[1]]).count == 1)
        #expect(outcomes[2] == .refused(.tooManyEnvelopes(limit: 4)))
        #expect(try Accounting.stored(at: path) == Accounting.recomputed(at: path))

        // Acknowledging schema 4 mail takes it off the rows.
        let waiting = try store.mailbox.pending(for: bob, after: nil, limit: 10)
        #expect(try store.mailbox.acknowledge(waiting.filter { $0.sender.value == "alice" }.map(\.id), for: bob) == 2)
        #expect(try store.mailbox.usage(for: bob) == MailboxUsage(count: 2, bytes: 2))
        #expect(try Accounting.stored(at: path) == Accounting.recomputed(at: path))
        #expect(try RawSQLite.query("SELECT count(*) FROM mailbox_sender_usage WHERE sender = 'alice' AND recipient = 'bob'", onDatabaseAt: path)
            == [[.integer(0)]])
    }

    /// Every path that adds or removes mail (a batch, a commit of acknowledgements and a batch in
    /// one transaction, an acknowledgement alone, a duplicate or foreign id, removeAll, an account
    /// deletion, a refused draft) leaves the usage rows equal to the mailbox rows' sums.
    @Test func theUsageRowsAlwaysAddUpToTheMail() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let limits = MailboxLimits(maxEnvelopes: 5, maxBytes: 1_000, maxEnvelopesPerSender: 3)
        let store = try SQLiteServerStore(path: path, mailboxLimits: limits)
        defer { store.close() }
        let bob = try Self.user("bob")
        let carol = try Self.user("carol")
        func check(_ step: String) throws {
            let stored = try Accounting.stored(at: path)
            let recomputed = try Accounting.recomputed(at: path)
            #expect(stored == recomputed, "after \(step)")
        }

        let first = try store.mailbox.enqueue([
            try Self.draft("alice", "bob", 10), try Self.draft("alice", "bob", 20), try Self.draft("dave", "bob", 5),
            try Self.draft("alice", "carol", 7), try Self.draft("alice", "bob", 1), try Self.draft("alice", "bob", 1),
        ])
        // alice's fourth to bob is over her share of 3.
        #expect(Self.acceptedIDs(first).count == 5)
        try check("a first batch")
        let bobs = try store.mailbox.pending(for: bob, after: nil, limit: 10).map(\.id)

        // One transaction: two of bob's acknowledged (one twice, plus one of carol's ids that is
        // not bob's and one that does not exist), then a batch that fits only because of them.
        let carolsID = try #require(try store.mailbox.pending(for: carol, after: nil, limit: 10).first?.id)
        let second = try store.mailbox.commit(
            enqueue: [try Self.draft("alice", "bob", 2), try Self.draft("alice", "bob", 3), try Self.draft("erin", "bob", 4)],
            acknowledge: [MailboxAcknowledgement(ids: [bobs[0], bobs[0], bobs[1], carolsID, 999_999], recipient: bob)])
        #expect(Self.acceptedIDs(second).count == 3)
        #expect(try store.mailbox.usage(for: bob) == MailboxUsage(count: 5, bytes: 5 + 1 + 2 + 3 + 4))
        #expect(try store.mailbox.usage(for: carol) == MailboxUsage(count: 1, bytes: 7))
        try check("acknowledgements and a batch in one transaction")

        // Everything of dave's acknowledged: his share's row goes.
        let davesID = try #require(try store.mailbox.pending(for: bob, after: nil, limit: 10).first { $0.sender.value == "dave" }?.id)
        #expect(try store.mailbox.acknowledge([davesID], for: bob) == 1)
        try check("an acknowledgement")
        #expect(try RawSQLite.query("SELECT count(*) FROM mailbox_sender_usage WHERE sender = 'dave'", onDatabaseAt: path) == [[.integer(0)]])

        try store.mailbox.removeAll(for: carol)
        #expect(try store.mailbox.usage(for: carol) == .empty)
        try check("removeAll")

        #expect(try !store.accountDeletion.deleteAccount(bob))
        #expect(try store.mailbox.usage(for: bob) == .empty)
        try check("an account deletion")
        #expect(try RawSQLite.query("SELECT count(*) FROM mailbox_usage", onDatabaseAt: path) == [[.integer(0)]])
        #expect(try RawSQLite.query("SELECT count(*) FROM mailbox_sender_usage", onDatabaseAt: path) == [[.integer(0)]])
        #expect(try RawSQLite.query("SELECT bytes FROM mailbox_total", onDatabaseAt: path) == [[.integer(0)]])
    }

    /// A batch that fails part way (the disk refusing a write, here a trigger standing in for it)
    /// rolls back its usage rows with its envelopes.
    @Test func aFailedBatchLeavesTheUsageRowsAsTheyWere() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let store = try SQLiteServerStore(path: path)
        defer { store.close() }
        _ = try store.mailbox.enqueue([try Self.draft("alice", "bob", 3)])
        let before = try Accounting.stored(at: path)
        try RawSQLite.execute(
            "CREATE TRIGGER fail_usage BEFORE UPDATE ON mailbox_total BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            onDatabaseAt: path)
        #expect(throws: StoreError.self) { try store.mailbox.enqueue([try Self.draft("alice", "bob", 4), try Self.draft("carol", "bob", 5)]) }
        #expect(try Accounting.stored(at: path) == before)
        #expect(try store.mailbox.usage(for: try Self.user("bob")) == MailboxUsage(count: 1, bytes: 3))
        #expect(try store.mailbox.pending(for: try Self.user("bob"), after: nil, limit: 10).count == 1)
    }
}
