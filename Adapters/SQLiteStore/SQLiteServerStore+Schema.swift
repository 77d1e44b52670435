extension SQLiteServerStore {
    /// `PRAGMA application_id` of a Parley server database: "PRLS" in ASCII. A file stamped with
    /// anything else is refused rather than migrated.
    static let applicationID: Int32 = 0x5052_4C53

    /// The server schema's history. Append only: a released migration is never edited.
    ///
    /// Tables are STRICT (a wrongly typed value is an error, not a silent conversion). Usernames are
    /// stored normalised, so plain BINARY comparison is the right collation. There are no foreign
    /// keys between the stores' tables: each port is independent (the in-memory adapters cannot
    /// cascade either), and account deletion calls every store's `removeAll` explicitly.
    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(version: 1, summary: "accounts, prekeys, mailbox and blocks", statements: [
            """
            CREATE TABLE accounts (
                username TEXT PRIMARY KEY NOT NULL,
                password_hash TEXT NOT NULL,
                identity_key BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                failed_login_count INTEGER NOT NULL DEFAULT 0,
                locked_until INTEGER
            ) STRICT
            """,
            """
            CREATE TABLE signed_prekeys (
                username TEXT PRIMARY KEY NOT NULL,
                id INTEGER NOT NULL,
                public_key BLOB NOT NULL,
                signature BLOB NOT NULL
            ) STRICT
            """,
            """
            CREATE TABLE one_time_prekeys (
                username TEXT NOT NULL,
                id INTEGER NOT NULL,
                public_key BLOB NOT NULL,
                PRIMARY KEY (username, id)
            ) STRICT, WITHOUT ROWID
            """,
            // AUTOINCREMENT, not a plain rowid: ids must never be reused after the newest envelopes
            // are deleted, or a client's "after id" cursor would skip new mail.
            """
            CREATE TABLE mailbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                recipient TEXT NOT NULL,
                sender TEXT NOT NULL,
                accepted_at INTEGER NOT NULL,
                size INTEGER NOT NULL,
                payload BLOB NOT NULL
            ) STRICT
            """,
            // Covers pending() (recipient, id order) and the cap check (count and sum of size)
            // without touching the payloads.
            "CREATE INDEX mailbox_by_recipient ON mailbox (recipient, id, size)",
            """
            CREATE TABLE blocks (
                blocker TEXT NOT NULL,
                blocked TEXT NOT NULL,
                PRIMARY KEY (blocker, blocked)
            ) STRICT, WITHOUT ROWID
            """,
            // For removeAll(for:), which also deletes the blocks against a user.
            "CREATE INDEX blocks_by_blocked ON blocks (blocked)",
        ]),
        // One identity key speaks for one account (unknown key-share, X3DH section 4.8). Schema 1
        // allowed copies; an identity key is public only once its account has published it, so
        // of accounts sharing a key the earliest registered is its owner and the later ones
        // copied it: those are deleted with their prekeys, mail and blocks before the index is
        // made. Accounts of schema 1 keep a NULL signature (they registered without one).
        SQLiteMigration(version: 2, summary: "identity signatures and one account per identity key", statements: [
            "ALTER TABLE accounts ADD COLUMN identity_signature BLOB",
            """
            CREATE TEMP TABLE identity_copies AS
            SELECT a.username AS username FROM accounts a WHERE EXISTS (
                SELECT 1 FROM accounts b WHERE b.identity_key = a.identity_key
                AND (b.created_at < a.created_at OR (b.created_at = a.created_at AND b.username < a.username)))
            """,
            "DELETE FROM signed_prekeys WHERE username IN (SELECT username FROM identity_copies)",
            "DELETE FROM one_time_prekeys WHERE username IN (SELECT username FROM identity_copies)",
            "DELETE FROM mailbox WHERE recipient IN (SELECT username FROM identity_copies)",
            "DELETE FROM blocks WHERE blocker IN (SELECT username FROM identity_copies) OR blocked IN (SELECT username FROM identity_copies)",
            "DELETE FROM accounts WHERE username IN (SELECT username FROM identity_copies)",
            "DROP TABLE identity_copies",
            "CREATE UNIQUE INDEX accounts_by_identity_key ON accounts (identity_key)",
        ]),
        // Issue 10, finding 11: a sender's share of a recipient's queue and a quota over all
        // mailboxes. The total is kept by triggers in the same transaction as every insert and
        // delete, so the cap check reads one row instead of summing the table.
        SQLiteMigration(version: 3, summary: "per-sender mailbox usage and the mailbox total", statements: [
            "CREATE INDEX mailbox_by_sender ON mailbox (recipient, sender, size)",
            "CREATE TABLE mailbox_total (slot INTEGER PRIMARY KEY CHECK (slot = 1), bytes INTEGER NOT NULL) STRICT",
            "INSERT INTO mailbox_total (slot, bytes) SELECT 1, coalesce(sum(size), 0) FROM mailbox",
            """
            CREATE TRIGGER mailbox_total_insert AFTER INSERT ON mailbox BEGIN
                UPDATE mailbox_total SET bytes = bytes + NEW.size WHERE slot = 1;
            END
            """,
            """
            CREATE TRIGGER mailbox_total_delete AFTER DELETE ON mailbox BEGIN
                UPDATE mailbox_total SET bytes = bytes - OLD.size WHERE slot = 1;
            END
            """,
        ]),
        // Issue 14: ML-KEM-1024 prekeys for PQXDH, one-time ones and one last-resort key per
        // account (a partial unique index), each with its identity-key signature.
        SQLiteMigration(version: 4, summary: "ML-KEM prekeys (PQXDH)", statements: [
            """
            CREATE TABLE kem_prekeys (
                username TEXT NOT NULL,
                id INTEGER NOT NULL,
                last_resort INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
                public_key BLOB NOT NULL,
                signature BLOB NOT NULL,
                PRIMARY KEY (username, id)
            ) STRICT, WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX kem_prekeys_last_resort ON kem_prekeys (username) WHERE last_resort = 1",
        ]),
        // Issue 11: less SQLite work per envelope. Each recipient's queue and each (recipient,
        // sender) share of it get a usage row (count, bytes), and the mailbox writer keeps those
        // rows and the total itself, once per batch, in the batch's transaction: the cap check
        // reads one row instead of scanning the queue (whose cost grew with its length), and an
        // insert or delete no longer updates a second index (mailbox_by_sender) or fires a
        // trigger. Usage rows with a count of zero are deleted. The totals of schema 4's data are
        // recomputed from the rows, not trusted from the old triggers.
        SQLiteMigration(version: 5, summary: "per-queue mailbox usage rows kept by the writer", statements: [
            "DROP TRIGGER mailbox_total_insert",
            "DROP TRIGGER mailbox_total_delete",
            "DROP INDEX mailbox_by_sender",
            """
            CREATE TABLE mailbox_usage (
                recipient TEXT PRIMARY KEY NOT NULL,
                count INTEGER NOT NULL CHECK (count > 0),
                bytes INTEGER NOT NULL CHECK (bytes >= 0)
            ) STRICT, WITHOUT ROWID
            """,
            """
            CREATE TABLE mailbox_sender_usage (
                recipient TEXT NOT NULL,
                sender TEXT NOT NULL,
                count INTEGER NOT NULL CHECK (count > 0),
                bytes INTEGER NOT NULL CHECK (bytes >= 0),
                PRIMARY KEY (recipient, sender)
            ) STRICT, WITHOUT ROWID
            """,
            "INSERT INTO mailbox_usage (recipient, count, bytes) SELECT recipient, count(*), sum(size) FROM mailbox GROUP BY recipient",
            """
            INSERT INTO mailbox_sender_usage (recipient, sender, count, bytes)
            SELECT recipient, sender, count(*), sum(size) FROM mailbox GROUP BY recipient, sender
            """,
            "UPDATE mailbox_total SET bytes = (SELECT coalesce(sum(size), 0) FROM mailbox) WHERE slot = 1",
        ]),
    ]

    /// The schema version this build creates and understands.
    public static var latestSchemaVersion: Int { migrations.last?.version ?? 0 }
}
