extension SQLiteClientStore {
    /// `PRAGMA application_id` of a Parley client database: "PRLC" in ASCII. Distinct from the
    /// server's "PRLS", so neither program ever migrates the other's file. It is also bound into
    /// the keyring's associated data.
    static let applicationID: Int32 = 0x5052_4C43

    /// The client schema's history. Append only: a released migration is never edited.
    ///
    /// What the file shows in clear, by design, is only what a lookup needs: keyed hashes
    /// (HMAC-SHA256 under subkeys of the data key, 32 bytes) and the insertion order of history.
    /// Every other field, including each record's own id, username, timestamp and status, is inside
    /// a `sealed` blob (format in `ClientRecordCipher`). The lookup hashes do not reveal whom the
    /// user talks to or which message ids exist; they do reveal equality (which history rows belong
    /// to the same conversation) and counts, which the file's size would betray anyway.
    ///
    /// Rejected: SQLCipher-style whole-file encryption. It would hide counts and structure too, but
    /// needs a patched SQLite that Debian's `libsqlite3` is not, and it would make the server and
    /// client adapters diverge at the C layer. Per-record sealing works with stock SQLite.
    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(version: 1, summary: "keyring and sealed client records", statements: [
            // One row. The data key sealed under an Argon2id-derived wrapping key, with what is
            // needed to derive that key again.
            """
            CREATE TABLE keyring (
                slot INTEGER PRIMARY KEY NOT NULL CHECK (slot = 1),
                format INTEGER NOT NULL,
                kdf_salt BLOB NOT NULL,
                kdf_operations INTEGER NOT NULL,
                kdf_memory_bytes INTEGER NOT NULL,
                nonce BLOB NOT NULL,
                wrapped_key BLOB NOT NULL
            ) STRICT
            """,
            """
            CREATE TABLE identity (
                slot INTEGER PRIMARY KEY NOT NULL CHECK (slot = 1),
                sealed BLOB NOT NULL
            ) STRICT
            """,
            // Prekey ids are public (the server publishes them), but hashing them costs nothing and
            // keeps one rule for every table: no record field in clear.
            "CREATE TABLE signed_prekeys (id_hash BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL) STRICT, WITHOUT ROWID",
            "CREATE TABLE one_time_prekeys (id_hash BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL) STRICT, WITHOUT ROWID",
            "CREATE TABLE sessions (peer_hash BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL) STRICT, WITHOUT ROWID",
            "CREATE TABLE contacts (peer_hash BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL) STRICT, WITHOUT ROWID",
            // `seq` is the display order (insertion order), not the sender's clock, which is inside
            // the seal and is not trusted for ordering anyway. AUTOINCREMENT so a sequence number
            // is never reused after the newest rows are deleted. UNIQUE(message_hash) is the dedupe
            // of a re-delivered envelope.
            """
            CREATE TABLE history (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                peer_hash BLOB NOT NULL,
                message_hash BLOB NOT NULL UNIQUE,
                sealed BLOB NOT NULL
            ) STRICT
            """,
            // entries(with:limit:) walks this backwards from the end of one peer's range and stops
            // after `limit` rows, whatever the size of the rest of the history.
            "CREATE INDEX history_by_peer ON history (peer_hash, seq)",
            "CREATE TABLE settings (key_hash BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL) STRICT, WITHOUT ROWID",
        ]),
        SQLiteMigration(version: 2, summary: "session records and the sent-message log", statements: [
            // The sender's log of recent messages, for resending after a retry request. `seq` is
            // the logging order, so expiry walks from the oldest row and stops at the first that
            // has not expired (the time itself is sealed). UNIQUE(message_hash) replaces an entry
            // on resend; envelope_hash finds the entry a retry request names; resend_pending (in
            // clear: it only says that some message awaits a resend) finds the work left to do.
            """
            CREATE TABLE sent_log (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                message_hash BLOB NOT NULL UNIQUE,
                envelope_hash BLOB NOT NULL,
                resend_pending INTEGER NOT NULL CHECK (resend_pending IN (0, 1)),
                sealed BLOB NOT NULL
            ) STRICT
            """,
            "CREATE INDEX sent_log_by_envelope ON sent_log (envelope_hash)",
            // Data migrations that need the data key, which SQL cannot have: queued here by the
            // schema step and done, then deleted, in one transaction right after the file is
            // unlocked. Schema 2 queues the rewrite of each schema-1 session as a session record.
            "CREATE TABLE pending_data_migrations (name TEXT PRIMARY KEY NOT NULL) STRICT, WITHOUT ROWID",
            "INSERT INTO pending_data_migrations (name) VALUES ('session-records')",
        ]),
        SQLiteMigration(version: 3, summary: "images sealed in the blob store", statements: [
            // Schema 2 kept each image as a plain PNG file in images/<peer>/<date>/, its path in
            // the history entry. From 3 the entry holds a sealed blob's id and file key instead
            // (see ImageSealer); the data migration seals every file an entry names, rewrites the
            // entry, and then removes the plain file (LegacyImageImport says why).
            "INSERT INTO pending_data_migrations (name) VALUES ('sealed-images')",
        ]),
        // Issue 14: the secrets of this device's ML-KEM prekeys (PQXDH), sealed like the X25519
        // ones and found by a keyed hash of their id.
        SQLiteMigration(version: 4, summary: "ML-KEM prekeys (PQXDH)", statements: [
            "CREATE TABLE kem_prekeys (id_hash BLOB PRIMARY KEY NOT NULL, sealed BLOB NOT NULL) STRICT, WITHOUT ROWID",
        ]),
        SQLiteMigration(version: 5, summary: "the durable event log", statements: [
            // The daemon's event stream (ClientCore's EventLog): `seq` is the cursor a subscriber
            // resumes from; AUTOINCREMENT so a cursor is never reused after old rows are trimmed.
            // Only the order and count of events are in clear; each event is sealed, bound to its
            // cursor.
            "CREATE TABLE event_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, sealed BLOB NOT NULL) STRICT",
        ]),
    ]

    /// Tables whose rows are sealed under the data key. A keyring may only be created in a file
    /// where all of them are empty: otherwise a deleted keyring row would silently become a new
    /// key and leave the old records unreadable.
    static let sealedTables = ["identity", "signed_prekeys", "one_time_prekeys", "sessions", "contacts", "history", "settings", "sent_log", "kem_prekeys", "event_log"]

    /// The schema version this build creates and understands.
    public static var latestSchemaVersion: Int { migrations.last?.version ?? 0 }
}
