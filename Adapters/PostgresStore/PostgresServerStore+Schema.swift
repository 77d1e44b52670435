/// One step of the PostgreSQL schema's history.
struct PostgresMigration: Sendable {
    let version: Int
    let summary: String
    let statements: [String]
}

extension PostgresServerStore {
    /// The key of the advisory lock held while migrating, so that nodes starting together migrate
    /// once, one after the other ("PRLS" in ASCII, as the SQLite file's application id).
    static let migrationLockKey: Int64 = 0x5052_4C53

    /// The server schema's history. Append only: a released migration is never edited.
    ///
    /// Usernames are stored normalised in `COLLATE "C"` columns, so byte order is `Username`'s
    /// order. As in SQLite there are no foreign keys between the stores' tables.
    ///
    /// Mailbox ids: one sequence for all envelopes, but an id is only drawn while the transaction
    /// holds its recipient's row in `mailbox_heads` (locked `FOR UPDATE`, in username order), so
    /// per recipient ids are increasing in *commit* order. A bare serial column would not be: two
    /// nodes can draw 10 and 11 and commit 11 first, and a reader paging "after 11" skips 10 for
    /// ever. The head row keeps the last id handed out for the recipient and is never deleted, so
    /// ids are not reused either. `mailbox_total` is the byte total over all mailboxes (the
    /// server-wide cap); every transaction that changes it locks it after the heads and before
    /// touching mailbox rows, one order for all, so they cannot deadlock.
    static let migrations: [PostgresMigration] = [
        PostgresMigration(version: 1, summary: "accounts, prekeys, mailbox and blocks", statements: [
            """
            CREATE TABLE accounts (
                username text COLLATE "C" PRIMARY KEY,
                password_hash text NOT NULL,
                identity_key bytea NOT NULL,
                identity_signature bytea,
                created_at bigint NOT NULL,
                failed_login_count bigint NOT NULL DEFAULT 0,
                locked_until bigint
            )
            """,
            "CREATE UNIQUE INDEX accounts_by_identity_key ON accounts (identity_key)",
            """
            CREATE TABLE signed_prekeys (
                username text COLLATE "C" PRIMARY KEY,
                id bigint NOT NULL,
                public_key bytea NOT NULL,
                signature bytea NOT NULL
            )
            """,
            """
            CREATE TABLE one_time_prekeys (
                username text COLLATE "C" NOT NULL,
                id bigint NOT NULL,
                public_key bytea NOT NULL,
                PRIMARY KEY (username, id)
            )
            """,
            "CREATE SEQUENCE mailbox_ids AS bigint MINVALUE 1",
            """
            CREATE TABLE mailbox_heads (
                recipient text COLLATE "C" PRIMARY KEY,
                last_id bigint NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE mailbox (
                recipient text COLLATE "C" NOT NULL,
                id bigint NOT NULL,
                sender text COLLATE "C" NOT NULL,
                accepted_at bigint NOT NULL,
                size integer NOT NULL,
                payload bytea NOT NULL,
                PRIMARY KEY (recipient, id)
            )
            """,
            "CREATE INDEX mailbox_by_sender ON mailbox (recipient, sender)",
            "CREATE TABLE mailbox_total (slot integer PRIMARY KEY CHECK (slot = 1), bytes bigint NOT NULL)",
            "INSERT INTO mailbox_total (slot, bytes) VALUES (1, 0)",
            """
            CREATE TABLE blocks (
                blocker text COLLATE "C" NOT NULL,
                blocked text COLLATE "C" NOT NULL,
                PRIMARY KEY (blocker, blocked)
            )
            """,
            "CREATE INDEX blocks_by_blocked ON blocks (blocked)",
        ]),
        // Issue 14: ML-KEM-1024 prekeys for PQXDH, as SQLite's schema step 4: one-time ones and
        // one last-resort key per account (a partial unique index), each with its identity-key
        // signature, ids shared between the two kinds as in SQLite.
        PostgresMigration(version: 2, summary: "ML-KEM prekeys (PQXDH)", statements: [
            """
            CREATE TABLE kem_prekeys (
                username text COLLATE "C" NOT NULL,
                id bigint NOT NULL,
                last_resort boolean NOT NULL,
                public_key bytea NOT NULL,
                signature bytea NOT NULL,
                PRIMARY KEY (username, id)
            )
            """,
            "CREATE UNIQUE INDEX kem_prekeys_last_resort ON kem_prekeys (username) WHERE last_resort",
        ]),
    ]

    /// The schema version this build creates and understands.
    public static var latestSchemaVersion: Int { migrations.last?.version ?? 0 }
}
