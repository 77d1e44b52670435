import CSQLite

/// Counts rows in a database that a `parley` or `parley-server` process is writing, read-only and
/// behind its back (WAL mode lets a reader see each committed transaction while the writer runs):
/// the test's independent view of how far a command has got, or of what the server still holds.
final class RowCounter {
    private var handle: OpaquePointer?
    let path: String

    init(path: String) throws {
        self.path = path
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw HarnessError(description: "cannot open \(path) read-only: \(message)")
        }
        sqlite3_busy_timeout(handle, 2000)
    }

    deinit { sqlite3_close_v2(handle) }

    /// `SELECT count(*) FROM table`: the rows committed so far.
    func count(_ table: String) throws -> Int {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, "SELECT count(*) FROM \(table)", -1, &statement, nil) == SQLITE_OK else {
            throw HarnessError(description: "\(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else {
            throw HarnessError(description: "\(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
        return Int(sqlite3_column_int64(statement, 0))
    }

    /// The first column of every row `sql` selects, as bytes (a BLOB or TEXT column).
    func blobs(_ sql: String) throws -> [[UInt8]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            throw HarnessError(description: "\(path): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        var rows: [[UInt8]] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            let count = Int(sqlite3_column_bytes(statement, 0))
            let pointer = sqlite3_column_blob(statement, 0)
            rows.append(pointer.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? [])
        }
        return rows
    }
}
