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

extension RawSQLite {
    /// A column value read behind the adapter's back.
    enum Value: Equatable {
        case integer(Int64)
        case text(String)
        case blob([UInt8])
        case null
    }

    /// Every row of `sql`, as values.
    static func query(_ sql: String, onDatabaseAt path: String) throws -> [[Value]] {
        var handle: OpaquePointer?
        defer { sqlite3_close_v2(handle) }
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else {
            throw Failure(description: "cannot open \(path)")
        }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw Failure(description: String(cString: sqlite3_errmsg(handle)))
        }
        defer { sqlite3_finalize(statement) }
        var rows: [[Value]] = []
        while true {
            let status = sqlite3_step(statement)
            guard status == SQLITE_ROW else {
                guard status == SQLITE_DONE else { throw Failure(description: String(cString: sqlite3_errmsg(handle))) }
                return rows
            }
            rows.append((0..<sqlite3_column_count(statement)).map { column in
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
                case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(statement, column)))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    guard count > 0, let base = sqlite3_column_blob(statement, column) else { return .blob([]) }
                    return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
                default: return .null
                }
            })
        }
    }

    /// A blob as an SQL literal, for writing altered bytes back.
    static func literal(_ bytes: [UInt8]) -> String {
        "x'" + bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() + "'"
    }
}
