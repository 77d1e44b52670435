internal import CSQLite
import Primitives

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one SQLite connection a set of stores shares: opened with the settings durability needs,
/// checked, migrated, and then reached only under a mutex.
///
/// - Durability: WAL journal with `synchronous=FULL`, so a transaction is on disk when `COMMIT`
///   returns ("accepted means on disk"), at the cost of one fsync per transaction; the mailbox
///   batches sends to share it.
/// - Concurrency: the store ports are synchronous, so all writes are serialised by a
///   `LockedValue` (a pthread mutex) around one connection. (An actor would force the ports to be `async`.)
///   Single-statement reads that need no transaction go to a second, read-only connection under
///   its own mutex: in WAL mode it reads the last committed state while the writer commits, so
///   the server's per-send checks (recipient exists, not blocked) do not queue behind a batch's
///   fsync. It sees every transaction that committed before the read began, exactly as a read
///   queued behind the writer would; reads that must see a transaction's own writes run on the
///   writer. (Measured: with one connection, 64 pipelining senders got batches of median 2 and
///   ~3,000 messages/s; see BENCHMARKS.md.) A busy timeout covers another process holding the
///   file.
/// - Safety at open: a file that is not a SQLite database, fails `PRAGMA quick_check`, belongs to
///   another application, or has a schema newer than this build is refused with a ``StoreError``,
///   before anything is written to it.
final class SQLiteDatabase: Sendable {
    /// Lock wait for a file shared with another process.
    static let busyTimeout: Duration = .seconds(5)

    private let connection: LockedValue<SQLiteConnection?>
    private let reader: LockedValue<SQLiteConnection?>
    let path: String

    /// Opens (creating, with mode 0600, if absent) the database at `path`, checks it, and applies
    /// `migrations` that it has not had yet, in one transaction.
    /// - Parameters:
    ///   - applicationID: stamped into `PRAGMA application_id` of a new file, and required of an
    ///     existing one, so that another program's database is never "migrated".
    ///   - migrations: versions 1, 2, 3... in order.
    /// - Throws: ``StoreError/corrupt(_:)`` for a file that is not a usable database of this
    ///   application; ``StoreError/unavailable(_:)`` when it cannot be opened or written, or its
    ///   schema is newer than `migrations`.
    init(path: String, applicationID: Int32, migrations: [SQLiteMigration]) throws(StoreError) {
        self.path = path
        try Self.createPrivateFile(at: path)
        let connection = try SQLiteConnection(path: path)
        let reader: SQLiteConnection
        do {
            try Self.configure(connection, path: path, applicationID: applicationID, migrations: migrations)
            // Opened after the writer has checked, migrated and switched the file to WAL.
            reader = try SQLiteConnection(path: path)
            reader.setBusyTimeout(Self.busyTimeout)
            try reader.execute("PRAGMA query_only = ON")
        } catch {
            connection.close()
            throw error
        }
        self.connection = LockedValue(connection)
        self.reader = LockedValue(reader)
    }

    /// Runs `body` with exclusive use of the connection.
    /// - Throws: ``StoreError/unavailable(_:)`` after ``close()``, or whatever `body` throws.
    @discardableResult
    func withConnection<T: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        try connection.withLock { (connection: inout SQLiteConnection?) throws(StoreError) -> T in
            guard let open = connection else { throw .unavailable("the database at \(path) is closed") }
            return try body(open)
        }
    }

    /// Runs `body`, which must only read and must not need a transaction spanning several
    /// statements, on the read-only connection: it does not wait for a commit in progress on the
    /// writer, and sees every transaction committed before it began.
    /// - Throws: ``StoreError/unavailable(_:)`` after ``close()``, or whatever `body` throws.
    func read<T: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        try reader.withLock { (connection: inout SQLiteConnection?) throws(StoreError) -> T in
            guard let open = connection else { throw .unavailable("the database at \(path) is closed") }
            return try body(open)
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction with exclusive use of the connection.
    @discardableResult
    func transaction<T: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        try withConnection { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) in try body(connection) }
        }
    }

    /// Closes the connection; later calls throw ``StoreError/unavailable(_:)``. Idempotent.
    func close() {
        reader.withLock { reader in
            reader?.close()
            reader = nil
        }
        connection.withLock { connection in
            connection?.close()
            connection = nil
        }
    }

    /// The schema version recorded in the file (`PRAGMA user_version`).
    func schemaVersion() throws(StoreError) -> Int {
        try withConnection { connection throws(StoreError) in try Self.userVersion(connection) }
    }

    // MARK: Opening

    /// Creates the file with mode 0600 if it does not exist, and tightens an existing file that
    /// others can read: it holds password hashes and everyone's pending mail. SQLite gives its
    /// `-wal` and `-shm` files the main file's permissions.
    private static func createPrivateFile(at path: String) throws(StoreError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw .unavailable("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { closeDescriptor(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .unavailable("cannot inspect \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .unavailable("\(path) is not a regular file") }
        if status.st_mode & 0o077 != 0 {
            // Best effort: a file owned by someone else cannot be changed, and is still usable.
            _ = fchmod(descriptor, 0o600)
        }
    }

    private static func configure(_ connection: SQLiteConnection, path: String, applicationID: Int32, migrations: [SQLiteMigration]) throws(StoreError) {
        connection.setBusyTimeout(busyTimeout)
        // First, before writing anything: is this a sound database? A non-database file fails here
        // with SQLITE_NOTADB, a damaged one with SQLITE_CORRUPT or a list of problems. quick_check
        // is O(size) but skips the slow index-content cross-checks of integrity_check.
        let problems: [String]
        do throws(StoreError) {
            problems = try connection.query("PRAGMA quick_check") { row throws(StoreError) in try row.text(0) }
        } catch .corrupt(let detail) {
            throw .corrupt("refusing to open \(path): it is not a SQLite database or is damaged (\(detail))")
        }
        guard problems == ["ok"] else {
            throw .corrupt("refusing to open \(path): it fails its integrity check (\(problems.prefix(3).joined(separator: "; ")))")
        }
        let journalMode = try connection.queryFirst("PRAGMA journal_mode = WAL") { row throws(StoreError) in try row.text(0) }
        guard journalMode?.lowercased() == "wal" else {
            throw .unavailable("the database cannot use write-ahead logging (journal mode \(journalMode ?? "unknown"))")
        }
        try connection.execute("PRAGMA synchronous = FULL")
        try connection.execute("PRAGMA foreign_keys = ON")
        try migrate(connection, applicationID: applicationID, migrations: migrations)
    }

    private static func migrate(_ connection: SQLiteConnection, applicationID: Int32, migrations: [SQLiteMigration]) throws(StoreError) {
        guard migrations.enumerated().allSatisfy({ $0.offset + 1 == $0.element.version }) else {
            throw .unavailable("migrations must be numbered 1, 2, 3... in order")
        }
        let latest = migrations.last?.version ?? 0
        try connection.transaction { () throws(StoreError) in
            // Read inside the write transaction: another process may have migrated meanwhile.
            let current = try userVersion(connection)
            let storedID = try connection.queryFirst("PRAGMA application_id") { row throws(StoreError) in try row.integer(0) } ?? 0
            if storedID != Int64(applicationID) {
                let tables = try connection.queryFirst("SELECT count(*) FROM sqlite_schema") { row throws(StoreError) in try row.integer(0) } ?? 0
                guard storedID == 0, current == 0, tables == 0 else {
                    throw .corrupt("the file is a SQLite database of another application (application_id \(storedID), \(tables) schema objects)")
                }
                // PRAGMA values cannot be bound; this one is an integer we chose, not input.
                try connection.execute("PRAGMA application_id = \(applicationID)")
            }
            guard current <= latest else {
                throw .unavailable("the database has schema version \(current), newer than this build's \(latest); upgrade Parley")
            }
            for migration in migrations where migration.version > current {
                for statement in migration.statements {
                    do {
                        try connection.execute(statement)
                    } catch {
                        throw .unavailable("migration \(migration.version) (\(migration.summary)) failed: \(error)")
                    }
                }
                try connection.execute("PRAGMA user_version = \(migration.version)")
            }
        }
    }

    private static func userVersion(_ connection: SQLiteConnection) throws(StoreError) -> Int {
        Int(try connection.queryFirst("PRAGMA user_version") { row throws(StoreError) in try row.integer(0) } ?? 0)
    }
}

/// `close(2)`, named apart from ``SQLiteDatabase/close()``.
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
