import Primitives
@testable import SQLiteStore
import ServerCore
import Testing

/// Schema 6's mailbox: one `WITHOUT ROWID` table keyed by (recipient, id), its ids from
/// `mailbox_sequence`. Migrated from schema 5 with every envelope and its id, and every
/// statement of the store walks its primary key.
@Suite("SQLite mailbox clustered by recipient")
struct SQLiteMailboxClusteringTests {
    private static func user(_ name: String) throws -> Username { try Username(name) }

    private static func draft(_ sender: String, _ recipient: String, _ payload: [UInt8]) throws -> MailboxEnvelopeDraft {
        MailboxEnvelopeDraft(
            sender: try user(sender), recipient: try user(recipient), payload: payload,
            acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))
    }

    private static func envelope(_ id: UInt64, _ sender: String, _ recipient: String, _ payload: [UInt8], at time: Int64) throws -> MailboxEnvelope {
        MailboxEnvelope(
            id: id, sender: try user(sender), recipient: try user(recipient), payload: payload,
            acceptedAt: Timestamp(millisecondsSinceEpoch: time))
    }

    /// A schema 5 file as the previous build left it: mail for bob and dave under AUTOINCREMENT
    /// ids 1-4, and bob's two newest (5 and 6) already acknowledged and deleted, so the ids
    /// handed out run past the largest stored one. Opening it migrates to schema 6: every
    /// envelope keeps its id, sender, time and payload, the usage rows stay, a new envelope gets
    /// an id past every id handed out (not 5: a client that processed 5 would skip it), and the
    /// old ids can still be paged after and acknowledged.
    @Test func schemaFiveMailKeepsItsIdsAfterTheMigration() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try RawSQLite.execute(
            ServerSchemaHistory.schema(upTo: 4) + """

            INSERT INTO accounts (username, password_hash, identity_key, created_at) VALUES ('bob', 'h', x'0102', 1000);
            INSERT INTO blocks VALUES ('bob', 'mallory');
            INSERT INTO mailbox (recipient, sender, accepted_at, size, payload) VALUES
                ('bob', 'alice', 11, 3, x'010203'), ('bob', 'alice', 12, 2, x'0405'), ('dave', 'carol', 13, 1, x'06'),
                ('bob', 'carol', 14, 4, x'07080910'), ('bob', 'alice', 15, 1, x'11'), ('bob', 'alice', 16, 1, x'12');
            DELETE FROM mailbox WHERE id IN (5, 6);

            """ + ServerSchemaHistory.step(to: 5), onDatabaseAt: path)
        #expect(try RawSQLite.query("SELECT max(id), (SELECT seq FROM sqlite_sequence WHERE name = 'mailbox') FROM mailbox", onDatabaseAt: path)
            == [[.integer(4), .integer(6)]])
        let usage = "SELECT recipient, count, bytes FROM mailbox_usage ORDER BY recipient"
        let senderUsage = "SELECT recipient, sender, count, bytes FROM mailbox_sender_usage ORDER BY recipient, sender"
        let usageBefore = try RawSQLite.query(usage, onDatabaseAt: path)
        let senderUsageBefore = try RawSQLite.query(senderUsage, onDatabaseAt: path)
        #expect(usageBefore == [[.text("bob"), .integer(3), .integer(9)], [.text("dave"), .integer(1), .integer(1)]])

        let store = try SQLiteServerStore(path: path)
        defer { store.close() }
        #expect(try store.schemaVersion() == 6)
        #expect(try store.schemaVersion() == SQLiteServerStore.latestSchemaVersion)
        let bob = try Self.user("bob")
        let dave = try Self.user("dave")
        let bobsMail = [
            try Self.envelope(1, "alice", "bob", [1, 2, 3], at: 11), try Self.envelope(2, "alice", "bob", [4, 5], at: 12),
            try Self.envelope(4, "carol", "bob", [7, 8, 9, 0x10], at: 14),
        ]
        #expect(try store.mailbox.pending(for: bob, after: nil, limit: 10) == bobsMail)
        #expect(try store.mailbox.pending(for: bob, after: 1, limit: 10) == Array(bobsMail[1...]))
        #expect(try store.mailbox.pending(for: dave, after: nil, limit: 10) == [try Self.envelope(3, "carol", "dave", [6], at: 13)])
        #expect(try RawSQLite.query(usage, onDatabaseAt: path) == usageBefore)
        #expect(try RawSQLite.query(senderUsage, onDatabaseAt: path) == senderUsageBefore)
        #expect(try RawSQLite.query("SELECT bytes FROM mailbox_total", onDatabaseAt: path) == [[.integer(10)]])
        #expect(try RawSQLite.query("SELECT username FROM accounts", onDatabaseAt: path) == [[.text("bob")]])
        #expect(try RawSQLite.query("SELECT blocker, blocked FROM blocks", onDatabaseAt: path) == [[.text("bob"), .text("mallory")]])

        // One b-tree: the table is WITHOUT ROWID and has no index of its own.
        #expect(try RawSQLite.query("SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_schema WHERE name = 'mailbox'", onDatabaseAt: path)
            == [[.integer(1)]])
        #expect(try RawSQLite.query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'mailbox'", onDatabaseAt: path).isEmpty)

        // New mail gets ids after 6 (the last one handed out), in batch order, for both recipients.
        let outcomes = try store.mailbox.enqueue([
            try Self.draft("alice", "bob", [0x20]), try Self.draft("alice", "dave", [0x21]), try Self.draft("carol", "bob", [0x22]),
        ])
        let ids = outcomes.compactMap { if case .accepted(let envelope) = $0 { envelope.id } else { nil } }
        #expect(ids == [7, 8, 9])
        #expect(try store.mailbox.pending(for: bob, after: 4, limit: 10).map(\.id) == [7, 9])

        // Migrated mail is acknowledged by its old id, and only by its recipient.
        #expect(try store.mailbox.acknowledge([1, 3], for: bob) == 1)
        #expect(try store.mailbox.usage(for: bob) == MailboxUsage(count: 4, bytes: 2 + 4 + 1 + 1))
        #expect(try store.mailbox.pending(for: bob, after: nil, limit: 10).map(\.id) == [2, 4, 7, 9])
        #expect(try store.mailbox.pending(for: dave, after: nil, limit: 10).map(\.id) == [3, 8])
    }

    /// Ids are never reused after the newest envelopes are acknowledged, even across a reopen:
    /// the sequence row, not the largest stored id, says where they continue.
    @Test func idsContinuePastAcknowledgedMailAcrossAReopen() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let bob = try Self.user("bob")
        var handedOut: [UInt64] = []
        do {
            let store = try SQLiteServerStore(path: path)
            defer { store.close() }
            let outcomes = try store.mailbox.enqueue([try Self.draft("alice", "bob", [1]), try Self.draft("alice", "bob", [2])])
            handedOut = outcomes.compactMap { if case .accepted(let envelope) = $0 { envelope.id } else { nil } }
            #expect(handedOut.count == 2)
            #expect(try store.mailbox.acknowledge(handedOut, for: bob) == 2)
        }
        #expect(try RawSQLite.query("SELECT count(*) FROM mailbox", onDatabaseAt: path) == [[.integer(0)]])
        let reopened = try SQLiteServerStore(path: path)
        defer { reopened.close() }
        let next = try reopened.mailbox.enqueue([try Self.draft("carol", "bob", [3])])
        let nextID = try #require(next.compactMap { if case .accepted(let envelope) = $0 { envelope.id } else { nil } }.first)
        #expect(nextID > (handedOut.max() ?? 0))
    }

    /// A file whose sequence row was removed behind the adapter's back is refused as corrupt
    /// rather than numbering from scratch (which could reuse ids clients have seen).
    @Test func aMissingSequenceRowIsReportedAsCorrupt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let store = try SQLiteServerStore(path: path)
        defer { store.close() }
        try RawSQLite.execute("DELETE FROM mailbox_sequence", onDatabaseAt: path)
        let error = #expect(throws: StoreError.self) { try store.mailbox.enqueue([try Self.draft("alice", "bob", [1])]) }
        #expect(error.map { if case .corrupt = $0 { true } else { false } } == true)
        #expect(try RawSQLite.query("SELECT count(*) FROM mailbox", onDatabaseAt: path) == [[.integer(0)]])
    }

    /// Every statement the store runs is a search by key (no scan, no temporary b-tree for the
    /// order), and every one on the mailbox walks its primary key (there is no second index).
    @Test(arguments: SQLiteMailboxStore.Statements.keyed)
    func theStatementWalksAPrimaryKey(_ sql: String) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try SQLiteServerStore(path: path).close()
        let plan = try RawSQLite.query("EXPLAIN QUERY PLAN " + sql, onDatabaseAt: path).compactMap { row -> String? in
            guard case .text(let detail) = row.last else { return nil }
            return detail
        }
        #expect(!plan.isEmpty, "no plan for \(sql)")
        for step in plan {
            #expect(step.hasPrefix("SEARCH "), "\(sql): \(step)")
            if step.hasPrefix("SEARCH mailbox ") {
                #expect(step.hasPrefix("SEARCH mailbox USING PRIMARY KEY ("), "\(sql): \(step)")
            }
        }
    }
}
