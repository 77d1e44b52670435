/// The server schema as earlier builds made it, migration by migration, for the upgrade tests: a
/// file built from these (plus a test's own rows) is what an older `parley-server` left on disk.
/// Copied from the migrations as they were released, not generated from
/// `SQLiteServerStore.migrations`, so that an edit to a released migration makes these tests fail
/// instead of silently testing the edited history.
enum ServerSchemaHistory {
    /// The statements that took a file from `version - 1` to `version`, each step ending with its
    /// `PRAGMA user_version`.
    private static let steps: [Int: String] = [
        1: """
            CREATE TABLE accounts (username TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL, identity_key BLOB NOT NULL,
                created_at INTEGER NOT NULL, failed_login_count INTEGER NOT NULL DEFAULT 0, locked_until INTEGER) STRICT;
            CREATE TABLE signed_prekeys (username TEXT PRIMARY KEY NOT NULL, id INTEGER NOT NULL, public_key BLOB NOT NULL,
                signature BLOB NOT NULL) STRICT;
            CREATE TABLE one_time_prekeys (username TEXT NOT NULL, id INTEGER NOT NULL, public_key BLOB NOT NULL,
                PRIMARY KEY (username, id)) STRICT, WITHOUT ROWID;
            CREATE TABLE mailbox (id INTEGER PRIMARY KEY AUTOINCREMENT, recipient TEXT NOT NULL, sender TEXT NOT NULL,
                accepted_at INTEGER NOT NULL, size INTEGER NOT NULL, payload BLOB NOT NULL) STRICT;
            CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id, size);
            CREATE TABLE blocks (blocker TEXT NOT NULL, blocked TEXT NOT NULL, PRIMARY KEY (blocker, blocked)) STRICT, WITHOUT ROWID;
            CREATE INDEX blocks_by_blocked ON blocks (blocked);
            PRAGMA user_version = 1;
            """,
        // Without schema 2's removal of identity-key copies: the files these tests build have none.
        2: """
            ALTER TABLE accounts ADD COLUMN identity_signature BLOB;
            CREATE UNIQUE INDEX accounts_by_identity_key ON accounts (identity_key);
            PRAGMA user_version = 2;
            """,
        3: """
            CREATE INDEX mailbox_by_sender ON mailbox (recipient, sender, size);
            CREATE TABLE mailbox_total (slot INTEGER PRIMARY KEY CHECK (slot = 1), bytes INTEGER NOT NULL) STRICT;
            INSERT INTO mailbox_total (slot, bytes) SELECT 1, coalesce(sum(size), 0) FROM mailbox;
            CREATE TRIGGER mailbox_total_insert AFTER INSERT ON mailbox BEGIN
                UPDATE mailbox_total SET bytes = bytes + NEW.size WHERE slot = 1;
            END;
            CREATE TRIGGER mailbox_total_delete AFTER DELETE ON mailbox BEGIN
                UPDATE mailbox_total SET bytes = bytes - OLD.size WHERE slot = 1;
            END;
            PRAGMA user_version = 3;
            """,
        4: """
            CREATE TABLE kem_prekeys (username TEXT NOT NULL, id INTEGER NOT NULL, last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
                public_key BLOB NOT NULL, signature BLOB NOT NULL, PRIMARY KEY (username, id)) STRICT, WITHOUT ROWID;
            CREATE UNIQUE INDEX kem_prekeys_last_resort ON kem_prekeys (username) WHERE last_resort = 1;
            PRAGMA user_version = 4;
            """,
        5: """
            DROP TRIGGER mailbox_total_insert;
            DROP TRIGGER mailbox_total_delete;
            DROP INDEX mailbox_by_sender;
            CREATE TABLE mailbox_usage (recipient TEXT PRIMARY KEY NOT NULL, count INTEGER NOT NULL CHECK (count > 0),
                bytes INTEGER NOT NULL CHECK (bytes >= 0)) STRICT, WITHOUT ROWID;
            CREATE TABLE mailbox_sender_usage (recipient TEXT NOT NULL, sender TEXT NOT NULL, count INTEGER NOT NULL CHECK (count > 0),
                bytes INTEGER NOT NULL CHECK (bytes >= 0), PRIMARY KEY (recipient, sender)) STRICT, WITHOUT ROWID;
            INSERT INTO mailbox_usage (recipient, count, bytes) SELECT recipient, count(*), sum(size) FROM mailbox GROUP BY recipient;
            INSERT INTO mailbox_sender_usage (recipient, sender, count, bytes)
                SELECT recipient, sender, count(*), sum(size) FROM mailbox GROUP BY recipient, sender;
            UPDATE mailbox_total SET bytes = (SELECT coalesce(sum(size), 0) FROM mailbox) WHERE slot = 1;
            PRAGMA user_version = 5;
            """,
    ]

    /// A new server file's application id, then schema 1 up to `version`.
    static func schema(upTo version: Int) -> String {
        precondition((1...steps.count).contains(version), "no released server schema \(version)")
        return "PRAGMA application_id = \(0x5052_4C53);\n" + (1...version).compactMap { steps[$0] }.joined(separator: "\n")
    }

    /// The statements of the one step that took a file from `version - 1` to `version`.
    static func step(to version: Int) -> String {
        precondition(steps[version] != nil, "no released server schema \(version)")
        return steps[version] ?? ""
    }
}
