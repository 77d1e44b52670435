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
    /// Mailbox ids (schema 3): per recipient, gapless, in commit order. The recipient's row in
    /// `mailbox_heads` keeps the last id handed out to it; an enqueue locks the heads of its
    /// recipients (`FOR UPDATE`, in username order) and bumps the row once per accepted draft,
    /// inside its transaction, so a second node enqueuing for the same recipient waits until the
    /// first commits (then draws the next ids) or rolls back (then draws the same ones). A
    /// reader paging "after id" therefore never skips an id: a global serial id would let it see
    /// 11 commit before 10 and skip 10 for ever. The head row is never deleted, so ids are not
    /// reused. Schemas 1 and 2 drew the ids from one sequence (`mailbox_ids`) under the same
    /// lock: increasing per recipient but with gaps; step 3 keeps every stored id and continues
    /// each recipient from its head. Schemas 1-4 kept the byte total over all mailboxes (the
    /// server-wide cap) in one `mailbox_total` row, which every transaction that changed it locked.
    ///
    /// Byte total per node (schema 5): `mailbox_totals` has one row per node (`node`, the
    /// `--node-id`; '' for the total migrated from schema 4): `bytes`, what that node added less
    /// what it deleted (the rows sum to the total; one row may be negative), and
    /// `allowance`, how far that row's `bytes` may grow. The allowances never sum past the cap:
    /// a batch locks only its own node's row and accepts within its allowance; one that needs
    /// more locks every row (in node order, after the heads, before the accounts: one order for
    /// all transactions, so they cannot deadlock), checks the true total and sets each row's
    /// allowance to its bytes plus an even share of what is left (see `PostgresMailboxStore`).
    ///
    /// Session owners (schema 4): per account the session that won the last login (its token and
    /// node, and a generation bumped by every write to the row), written by `PostgresEventBus` in
    /// the transaction that sends the claim's NOTIFY. An account deletion leaves a tombstone (no
    /// token, the next generation) rather than deleting the row, so generations never go back,
    /// even for a name registered again. A node whose listener was down re-reads the rows of its
    /// connected users (see `PostgresEventBus`).
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
        // Issue 12: ids per recipient. Stored envelopes keep their ids (clients remember the ids
        // they processed, senders the ids their sends were accepted under); each head already
        // holds the last id drawn for its recipient, which the next draft follows. The two
        // statements before the DROP only repair heads a database altered by hand could lack.
        PostgresMigration(version: 3, summary: "mailbox ids per recipient, gapless", statements: [
            """
            INSERT INTO mailbox_heads (recipient, last_id)
            SELECT recipient, max(id) FROM mailbox GROUP BY recipient
            ON CONFLICT (recipient) DO UPDATE SET last_id = greatest(mailbox_heads.last_id, excluded.last_id)
            """,
            "DROP SEQUENCE mailbox_ids",
        ]),
        // Issue 12: "newest login wins" survives a listener outage.
        PostgresMigration(version: 4, summary: "session owners", statements: [
            """
            CREATE TABLE session_owners (
                username text COLLATE "C" PRIMARY KEY,
                token bigint,
                node text,
                generation bigint NOT NULL,
                CHECK ((token IS NULL) = (node IS NULL))
            )
            """,
        ]),
        // Cluster throughput: the one `mailbox_total` row, which every batch of every node locked,
        // becomes one row per node with an allowance (see the notes above). The stored total is
        // kept as the row of no node (''), whose allowance is its bytes: a node's first batch
        // that needs room shares the rest of the cap out among the rows.
        PostgresMigration(version: 5, summary: "the mailbox byte total per node", statements: [
            """
            CREATE TABLE mailbox_totals (
                node text COLLATE "C" PRIMARY KEY,
                bytes bigint NOT NULL,
                allowance bigint NOT NULL
            )
            """,
            "INSERT INTO mailbox_totals (node, bytes, allowance) SELECT '', bytes, bytes FROM mailbox_total",
            "DROP TABLE mailbox_total",
        ]),
    ]

    /// The schema version this build creates and understands.
    public static var latestSchemaVersion: Int { migrations.last?.version ?? 0 }
}
