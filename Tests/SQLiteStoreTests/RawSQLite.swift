import CSQLite

/// Direct SQLite access for tests that play "another program" writing to the file, behind the
/// adapter's back.
enum RawSQLite {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func execute(_ sql: String, onDatabaseAt path: String) throws {
        var handle: OpaquePointer?
        defer { sqlite3_close_v2(handle) }
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK else {
            throw Failure(description: "cannot open \(path)")
        }
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
            throw Failure(description: String(cString: sqlite3_errmsg(handle)))
        }
    }
}
