import ClientCore
import Envelope
import Primitives

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The client's encrypted local database: one SQLite file per account, whose every secret or
/// private record is sealed, vending the client's store ports.
///
/// Guarantees:
/// - Confidentiality at rest. Identity and prekey secrets, session states, contacts (names, keys,
///   trust) and message history are sealed with XChaCha20-Poly1305 under subkeys of a random
///   32-byte data key. The data key is stored only wrapped under a key that Argon2id derives from
///   the account password (see `ClientKeyring`). Lookups use keyed hashes, so the file shows
///   neither usernames nor message ids; history rows are ordered by an insertion counter, and the
///   timestamps are sealed.
/// - Integrity. Each blob is bound to its table and lookup hashes; a flipped bit, or a blob moved
///   to another row or table, surfaces as `StoreError.corrupt` and is never decoded.
/// - A wrong password throws ``ClientStoreError/wrongPassword`` before anything is decrypted.
/// - A file that is not a database of this application is refused (``ClientStoreError/corrupt(_:)``)
///   without being written to.
/// - The file (and its WAL) is created with mode 0600; deleted records are zeroed in place
///   (`PRAGMA secure_delete`).
///
/// Not guaranteed: the file's row counts and sizes, which rows share a conversation, and their
/// insertion order are visible; an attacker who can write the file can delete whole rows or roll
/// the file back to an older copy (per-record sealing cannot detect that).
///
/// The stores share one connection (see `SQLiteDatabase`), serialised by a mutex; sealing and
/// opening run outside the lock where a method reads or writes one record.
public final class SQLiteClientStore: ClientUnitOfWork {
    /// The file name used inside an account folder.
    public static let fileName = "parley-client.sqlite"

    /// Bounds on what is stored and on what an opened file may ask for.
    public enum Limits {
        /// Argon2id passes accepted, from the file or from a caller. The upper bound stops a
        /// hostile file from making an open spin for minutes.
        public static let kdfOperations = 1...10
        /// Argon2id memory accepted: libsodium's minimum to its SENSITIVE preset (1 GiB). The upper
        /// bound stops a hostile file from making an open allocate without limit.
        public static let kdfMemoryBytes = 8192...(1 << 30)
        /// Longest text message stored, as the envelope layer accepts.
        public static let maxTextBytes = EnvelopeLimits.maxTextBytes
        /// Longest image path read from a schema-2 entry (its plain file is sealed by the migration), in UTF-8 bytes (Linux's PATH_MAX).
        public static let maxImagePathBytes = 4096
        /// Longest username read back from a record (a valid one has at most 32 ASCII bytes).
        public static let maxUsernameBytes = 64
        /// Longest settings key, in UTF-8 bytes.
        public static let maxSettingKeyBytes = 256
        /// Largest settings value: the application's small state, not a blob store.
        public static let maxSettingValueBytes = 64 << 10

        static func check(_ cost: Argon2Cost) throws(ClientStoreError) {
            guard kdfOperations.contains(cost.operations), kdfMemoryBytes.contains(cost.memoryBytes) else {
                throw .keyDerivationFailed(
                    "Argon2id cost of \(cost.operations) passes over \(cost.memoryBytes) bytes is outside "
                        + "\(kdfOperations) passes and \(kdfMemoryBytes) bytes")
            }
        }
    }

    /// The account's identity and prekey secrets.
    public let keys: SQLiteLocalKeyStore
    /// Session records (current and previous Double Ratchet sessions), one per peer.
    public let sessions: SQLiteSessionStore
    /// Contacts: identity keys seen, trust and request state.
    public let contacts: SQLiteContactStore
    /// Message history, deduplicated by message id.
    public let history: SQLiteHistoryStore
    /// The client application's own small state (counters, its username).
    public let settings: SQLiteClientSettings
    /// Recently sent messages, for resending after a retry request.
    public let sentLog: SQLiteSentMessageLog
    /// The durable event stream (cursor = row sequence), bounded by ``EventLogLimits``.
    public let eventLog: SQLiteEventLog

    private let database: SQLiteDatabase
    private let cipher: ClientRecordCipher
    private let sentLogLimits: SentLogLimits
    private let eventLogLimits: EventLogLimits
    private let crypto: any CryptoProvider
    private let random: any RandomSource
    private let cost: Argon2Cost

    private init(
        database: SQLiteDatabase, cipher: ClientRecordCipher, crypto: any CryptoProvider, random: any RandomSource, cost: Argon2Cost,
        sentLogLimits: SentLogLimits, eventLogLimits: EventLogLimits
    ) {
        self.sentLogLimits = sentLogLimits
        self.eventLogLimits = eventLogLimits
        self.database = database
        self.crypto = crypto
        self.random = random
        self.cost = cost
        self.cipher = cipher
        let shared = SQLiteScope.shared(database)
        keys = SQLiteLocalKeyStore(database: shared, cipher: cipher)
        sessions = SQLiteSessionStore(database: shared, cipher: cipher)
        contacts = SQLiteContactStore(database: shared, cipher: cipher)
        history = SQLiteHistoryStore(database: shared, cipher: cipher)
        settings = SQLiteClientSettings(database: shared, cipher: cipher)
        sentLog = SQLiteSentMessageLog(database: shared, cipher: cipher, limits: sentLogLimits)
        eventLog = SQLiteEventLog(database: shared, cipher: cipher, limits: eventLogLimits)
    }

    /// The application's view of this database, with `imageBlobs` for the history's sealed
    /// images and `images` for those the person saves in clear.
    public func clientStores(imageBlobs: any ImageBlobStore, images: any ImageLibrary) -> ClientStores {
        ClientStores(
            keys: keys, sessions: sessions, contacts: contacts, history: history, settings: settings, sentLog: sentLog,
            imageBlobs: imageBlobs, images: images, eventLog: eventLog, unitOfWork: self)
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction whose stores all write through it; commits
    /// (durably: WAL with `synchronous=FULL`) when `body` returns, rolls everything back when it
    /// throws or the commit fails. See ``ClientUnitOfWork``.
    public func perform<T: Sendable>(_ body: (ClientTransaction) throws(StoreError) -> T) throws(StoreError) -> T {
        try database.transaction { connection throws(StoreError) -> T in
            let scope = SQLiteScope.inTransaction(connection)
            return try body(ClientTransaction(
                keys: SQLiteLocalKeyStore(database: scope, cipher: cipher),
                sessions: SQLiteSessionStore(database: scope, cipher: cipher),
                contacts: SQLiteContactStore(database: scope, cipher: cipher),
                history: SQLiteHistoryStore(database: scope, cipher: cipher),
                settings: SQLiteClientSettings(database: scope, cipher: cipher),
                sentLog: SQLiteSentMessageLog(database: scope, cipher: cipher, limits: sentLogLimits),
                eventLog: SQLiteEventLog(database: scope, cipher: cipher, limits: eventLogLimits)))
        }
    }

    /// Opens the database at `path`, creating it (mode 0600) with a new random data key wrapped
    /// under `password` if it does not exist, and unlocks it.
    ///
    /// On an existing file the key is derived with the salt and cost stored in it. If that cost
    /// differs from `cost`, the data key is rewrapped under `cost` once unlocked, so that raising
    /// the default upgrades old files (as `argon2idNeedsRehash` does for the server's hashes).
    ///
    /// - Parameters:
    ///   - cost: Argon2id cost for a new keyring. `.interactive` (64 MiB, well under a second) by
    ///     default: the open runs on every app start, and `.moderate`'s 256 MiB is too much for
    ///     small devices and for tests. Tests pass `.minimum`.
    /// - Throws: ``ClientStoreError/wrongPassword`` when `password` does not unwrap the data key
    ///   (nothing is decrypted); ``ClientStoreError/corrupt(_:)`` for a file that is not a Parley
    ///   client database, is damaged, or has records but no keyring;
    ///   ``ClientStoreError/unavailable(_:)`` when the file cannot be opened or written, or has a
    ///   newer schema; ``ClientStoreError/keyDerivationFailed(_:)`` for a cost outside ``Limits``.
    ///   - sentLogLimits: the bounds of the sent-message log (tests pass small ones).
    ///   - eventLogLimits: the bound of the event log (tests pass small ones).
    ///   - legacyImages: seals the plain image files a schema-2 file refers to (the migration to
    ///     schema 3). Without it, opening a file that still has such images fails
    ///     (``ClientStoreError/unavailable(_:)``) and leaves the migration queued.
    public static func open(
        path: String, password: SecretBytes, crypto: any CryptoProvider, random: any RandomSource, cost: Argon2Cost = .interactive,
        sentLogLimits: SentLogLimits = .standard, eventLogLimits: EventLogLimits = .standard, legacyImages: LegacyImageImport? = nil
    ) throws(ClientStoreError) -> SQLiteClientStore {
        try Limits.check(cost)
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: path, applicationID: applicationID, migrations: migrations)
        } catch {
            throw ClientStoreError(error)
        }
        do throws(ClientStoreError) {
            // Per connection, hence here: zero the content of deleted rows (erased one-time
            // prekeys, replaced session states, removed conversations) instead of leaving it in
            // free pages.
            _ = try translating { () throws(StoreError) in try database.withConnection { connection throws(StoreError) in try connection.execute("PRAGMA secure_delete = ON") } }
            let dataKey = try unlock(database, password: password, cost: cost, crypto: crypto, random: random)
            let cipher: ClientRecordCipher
            do { cipher = try ClientRecordCipher(dataKey: dataKey, crypto: crypto, random: random) } catch {
                throw ClientStoreError.unavailable("cannot derive the record keys: \(error)")
            }
            try runPendingDataMigrations(database, cipher: cipher, legacyImages: legacyImages)
            return SQLiteClientStore(database: database, cipher: cipher, crypto: crypto, random: random, cost: cost, sentLogLimits: sentLogLimits,
                eventLogLimits: eventLogLimits)
        } catch {
            database.close()
            throw error
        }
    }

    /// Opens ``fileName`` inside `accountDirectory`, creating the directory with mode 0700 if it
    /// does not exist (an existing directory's permissions are left as they are).
    /// - Throws: as ``open(path:password:crypto:random:cost:)``, and
    ///   ``ClientStoreError/unavailable(_:)`` when the directory cannot be created.
    public static func open(
        accountDirectory: String, password: SecretBytes, crypto: any CryptoProvider, random: any RandomSource,
        cost: Argon2Cost = .interactive, legacyImages: LegacyImageImport? = nil
    ) throws(ClientStoreError) -> SQLiteClientStore {
        if mkdir(accountDirectory, 0o700) != 0 && errno != EEXIST {
            throw .unavailable("cannot create the account folder \(accountDirectory): \(String(cString: strerror(errno)))")
        }
        return try open(path: accountDirectory + "/" + fileName, password: password, crypto: crypto, random: random, cost: cost, legacyImages: legacyImages)
    }

    /// Rewraps the data key under `new`, with a fresh salt and nonce. Records are not re-sealed:
    /// they are under the data key, which does not change.
    /// - Parameter cost: the Argon2id cost for the new wrapping; the store's open cost by default.
    /// - Throws: ``ClientStoreError/wrongPassword`` when `old` does not unwrap the current keyring
    ///   (nothing changes); ``ClientStoreError/unavailable(_:)`` when the file cannot be written or
    ///   the store is closed; ``ClientStoreError/corrupt(_:)`` for a damaged keyring.
    public func changePassword(old: SecretBytes, new: SecretBytes, cost: Argon2Cost? = nil) throws(ClientStoreError) {
        guard let keyring = try Self.readKeyring(database) else { throw .corrupt("the keyring is missing") }
        let dataKey = try keyring.unwrap(password: old, crypto: crypto)
        let rewrapped = try ClientKeyring.wrap(dataKey, password: new, cost: cost ?? self.cost, crypto: crypto, random: random)
        try Self.replaceKeyring(database, with: rewrapped, expecting: keyring)
    }

    /// The schema version recorded in the file.
    public func schemaVersion() throws(StoreError) -> Int {
        try database.schemaVersion()
    }

    /// Closes the file (checkpointing and removing the WAL). Every store vended by this object
    /// then throws `StoreError.unavailable`. Also happens when the last reference goes away.
    public func close() {
        database.close()
    }

    // MARK: Data migrations

    /// Runs the data migrations that schema steps queued (they need the data key), each in one
    /// transaction with the removal of its queue entry, so a crash leaves it to the next open.
    /// Files a migration writes (sealed image blobs) are removed if the transaction fails; files
    /// it replaces (plain images) are removed only after it committed.
    private static func runPendingDataMigrations(
        _ database: SQLiteDatabase, cipher: ClientRecordCipher, legacyImages: LegacyImageImport?
    ) throws(ClientStoreError) {
        var sealedImages: [LegacyImageImport.Sealed] = []
        do {
            try translating { () throws(StoreError) in
                try database.transaction { connection throws(StoreError) in
                    let pending = try connection.query("SELECT name FROM pending_data_migrations") { row throws(StoreError) in try row.text(0) }
                    for name in pending {
                        switch name {
                        case "session-records":
                            _ = try SQLiteSessionStore.migrateLegacySessions(on: connection, cipher: cipher)
                        case "sealed-images":
                            try SQLiteHistoryStore.migrateLegacyImages(on: connection, cipher: cipher, importer: legacyImages, sealed: &sealedImages)
                        default:
                            throw .unavailable("the database asks for a data migration this build does not know (\(name)); upgrade Parley")
                        }
                        try connection.execute("DELETE FROM pending_data_migrations WHERE name = ?", [.text(name)])
                    }
                }
            }
        } catch {
            legacyImages?.discard(sealedImages)
            throw error
        }
        legacyImages?.removePlainFiles(sealedImages)
    }

    // MARK: Keyring

    /// The data key: unwrapped from the keyring, or created with it on a new file.
    private static func unlock(
        _ database: SQLiteDatabase, password: SecretBytes, cost: Argon2Cost, crypto: any CryptoProvider, random: any RandomSource
    ) throws(ClientStoreError) -> SecretBytes {
        if let keyring = try readKeyring(database) {
            let dataKey = try keyring.unwrap(password: password, crypto: crypto)
            if keyring.cost != cost {
                let upgraded = try ClientKeyring.wrap(dataKey, password: password, cost: cost, crypto: crypto, random: random)
                try replaceKeyring(database, with: upgraded, expecting: keyring)
            }
            return dataKey
        }
        // A new file. Argon2id runs before the write transaction, so the lock is not held for it.
        let dataKey = random.secret(count: ClientKeyring.dataKeyByteCount)
        let keyring = try ClientKeyring.wrap(dataKey, password: password, cost: cost, crypto: crypto, random: random)
        let created = try translating { () throws(StoreError) in
            try database.transaction { connection throws(StoreError) -> Bool in
                // Another process may have created the keyring meanwhile: then use theirs.
                guard try connection.queryFirst("SELECT 1 FROM keyring", [], { _ in true }) == nil else { return false }
                let populated = sealedTables.map { "EXISTS (SELECT 1 FROM \($0))" }.joined(separator: " OR ")
                if try connection.queryFirst("SELECT \(populated)", [], { row throws(StoreError) in try row.integer(0) }) != 0 {
                    // Making a new key here would orphan every record: refuse instead.
                    throw .corrupt("the file holds sealed records but no keyring")
                }
                try connection.execute(
                    """
                    INSERT INTO keyring (slot, format, kdf_salt, kdf_operations, kdf_memory_bytes, nonce, wrapped_key)
                    VALUES (1, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        .integer(ClientKeyring.format), .blob(keyring.salt), .integer(Int64(keyring.cost.operations)),
                        .integer(Int64(keyring.cost.memoryBytes)), .blob(keyring.nonce), .blob(keyring.wrappedKey),
                    ])
                return true
            }
        }
        return created ? dataKey : try unlock(database, password: password, cost: cost, crypto: crypto, random: random)
    }

    /// The validated keyring row, or nil in a new file.
    private static func readKeyring(_ database: SQLiteDatabase) throws(ClientStoreError) -> ClientKeyring? {
        typealias Row = (format: Int64, salt: [UInt8], operations: Int64, memory: Int64, nonce: [UInt8], wrapped: [UInt8])
        let row: Row? = try translating { () throws(StoreError) in
            try database.withConnection { connection throws(StoreError) -> Row? in
                try connection.queryFirst(
                    "SELECT format, kdf_salt, kdf_operations, kdf_memory_bytes, nonce, wrapped_key FROM keyring WHERE slot = 1"
                ) { row throws(StoreError) -> Row in
                    (try row.integer(0), try row.blob(1), try row.integer(2), try row.integer(3), try row.blob(4), try row.blob(5))
                }
            }
        }
        guard let row else { return nil }
        return try ClientKeyring(
            format: row.format, salt: row.salt, operations: row.operations, memoryBytes: row.memory, nonce: row.nonce,
            wrappedKey: row.wrapped)
    }

    /// Replaces the keyring, unless it changed since `expected` was read (a concurrent password
    /// change in another process wins, and this one reports it rather than silently overwriting).
    private static func replaceKeyring(_ database: SQLiteDatabase, with keyring: ClientKeyring, expecting expected: ClientKeyring) throws(ClientStoreError) {
        let changed = try translating { () throws(StoreError) in
            try database.withConnection { connection throws(StoreError) in
                try connection.execute(
                    """
                    UPDATE keyring SET kdf_salt = ?, kdf_operations = ?, kdf_memory_bytes = ?, nonce = ?, wrapped_key = ?
                    WHERE slot = 1 AND nonce = ? AND wrapped_key = ?
                    """,
                    [
                        .blob(keyring.salt), .integer(Int64(keyring.cost.operations)), .integer(Int64(keyring.cost.memoryBytes)),
                        .blob(keyring.nonce), .blob(keyring.wrappedKey), .blob(expected.nonce), .blob(expected.wrappedKey),
                    ])
            }
        }
        guard changed == 1 else { throw .unavailable("the keyring was changed by another process; try again") }
    }

    private static func translating<T>(_ body: () throws(StoreError) -> T) throws(ClientStoreError) -> T {
        do { return try body() } catch { throw ClientStoreError(error) }
    }
}
