internal import CSQLite
import Primitives

/// A value bound to, or read from, a statement parameter.
enum SQLiteValue {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

/// One open SQLite connection and its statement cache.
///
/// Not `Sendable` and not thread-safe on purpose: it is only ever reached through
/// ``SQLiteDatabase``, whose mutex serialises every use. (A `Sendable` class cannot hold the C
/// handle under Swift 6; keeping the handle in a non-Sendable class inside a `LockedValue` makes the
/// compiler check that no one touches it outside the lock.)
final class SQLiteConnection {
    private var handle: OpaquePointer?
    /// Prepared statements by SQL text, prepared once and reset after each use: every statement
    /// the stores run is a constant string, so the cache is bounded by the source code.
    private var statements: [String: OpaquePointer] = [:]

    /// Opens an existing file (``SQLiteDatabase`` creates it first, with the right permissions).
    /// - Throws: ``StoreError/unavailable(_:)`` when SQLite cannot open it.
    init(path: String) throws(StoreError) {
        var handle: OpaquePointer?
        // NOMUTEX: SQLite's own locking is redundant under our mutex. No CREATE: the file was
        // created (0600) by the caller, and must not silently reappear with default permissions.
        let status = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        self.handle = handle
        guard status == SQLITE_OK, handle != nil else {
            let error = Self.error(status, handle, "cannot open the database")
            close()
            throw error
        }
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit { close() }

    /// Finalises every cached statement and closes the connection (checkpointing the WAL into
    /// the main file when this is the last connection). Idempotent.
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    /// How long SQLite waits on a lock held by another process before giving up with BUSY.
    func setBusyTimeout(_ duration: Duration) {
        sqlite3_busy_timeout(handle, Int32(clamping: duration.components.seconds * 1000))
    }

    // MARK: Statements

    /// Runs a statement that returns no rows (or whose rows are ignored) and returns the number of
    /// rows it changed.
    @discardableResult
    func execute(_ sql: String, _ bindings: [SQLiteValue] = []) throws(StoreError) -> Int {
        try withStatement(sql, bindings) { statement throws(StoreError) in
            while try step(statement, sql) {}
            return Int(sqlite3_changes(handle))
        }
    }

    /// Runs a query and maps each row.
    func query<T>(_ sql: String, _ bindings: [SQLiteValue] = [], _ map: (SQLiteRow) throws(StoreError) -> T) throws(StoreError) -> [T] {
        try withStatement(sql, bindings) { statement throws(StoreError) in
            var rows: [T] = []
            while try step(statement, sql) {
                rows.append(try map(SQLiteRow(statement: statement)))
            }
            return rows
        }
    }

    /// The first row of a query, if any.
    func queryFirst<T>(_ sql: String, _ bindings: [SQLiteValue] = [], _ map: (SQLiteRow) throws(StoreError) -> T) throws(StoreError) -> T? {
        try withStatement(sql, bindings) { statement throws(StoreError) in
            try step(statement, sql) ? try map(SQLiteRow(statement: statement)) : nil
        }
    }

    /// The rowid of the last successful INSERT on this connection.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    // MARK: Transactions

    /// Runs `body` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back if anything throws.
    ///
    /// IMMEDIATE takes the write lock at the start, so a read-then-write (take a prekey, check a
    /// cap then insert) cannot be interleaved with another writer, even one in another process.
    @discardableResult
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            // A failed COMMIT may already have rolled back; only roll back what is still open.
            if let handle, sqlite3_get_autocommit(handle) == 0 {
                _ = try? execute("ROLLBACK")
            }
            throw error
        }
    }

    // MARK: Plumbing

    private func withStatement<T>(_ sql: String, _ bindings: [SQLiteValue], _ body: (OpaquePointer) throws(StoreError) -> T) throws(StoreError) -> T {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in bindings.enumerated() {
            try bind(value, at: Int32(offset + 1), in: statement, sql)
        }
        return try body(statement)
    }

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        guard let handle else { throw .unavailable("the database is closed") }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else {
            throw Self.error(status, handle, "cannot prepare \(Self.summary(sql))")
        }
        statements[sql] = statement
        return statement
    }

    private func bind(_ value: SQLiteValue, at index: Int32, in statement: OpaquePointer, _ sql: String) throws(StoreError) {
        let status: Int32
        switch value {
        case .integer(let integer):
            status = sqlite3_bind_int64(statement, index, integer)
        case .text(let text):
            status = sqlite3_bind_text(statement, index, text, -1, Self.transient)
        case .blob(let bytes) where bytes.isEmpty:
            // A null pointer would bind NULL, not an empty blob.
            status = sqlite3_bind_zeroblob(statement, index, 0)
        case .blob(let bytes):
            status = bytes.withUnsafeBytes { buffer in
                sqlite3_bind_blob(statement, index, buffer.baseAddress, Int32(buffer.count), Self.transient)
            }
        case .null:
            status = sqlite3_bind_null(statement, index)
        }
        guard status == SQLITE_OK else { throw Self.error(status, handle, "cannot bind parameter \(index) of \(Self.summary(sql))") }
    }

    /// Advances the statement: true when a row is available, false when done.
    private func step(_ statement: OpaquePointer, _ sql: String) throws(StoreError) -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status: throw Self.error(status, handle, Self.summary(sql))
        }
    }

    /// SQLite copies bound text and blobs at once (`SQLITE_TRANSIENT`, a macro Swift does not
    /// import), so Swift may free its buffers as soon as the bind returns.
    private static var transient: sqlite3_destructor_type {
        unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    }

    /// The statement's first words, for error messages: enough to find it in the source, and never
    /// a bound value (values are never part of the SQL text).
    private static func summary(_ sql: String) -> String {
        let words = sql.split(whereSeparator: \.isWhitespace).prefix(4).joined(separator: " ")
        return "'\(words)...'"
    }

    /// Translates an SQLite result code into the store port's error, so no SQLite type or code
    /// reaches the core.
    static func error(_ status: Int32, _ handle: OpaquePointer?, _ context: String) -> StoreError {
        let message = handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(status))
        let detail = "\(context): \(message) (SQLite code \(status))"
        switch status & 0xff {
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .corrupt(detail)
        case SQLITE_CONSTRAINT: return .alreadyExists(detail)
        case SQLITE_FULL: return .diskFull(detail)
        default: return .unavailable(detail)
        }
    }
}
