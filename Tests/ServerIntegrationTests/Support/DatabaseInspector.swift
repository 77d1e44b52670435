import CSQLite

/// Reads a server database directly with SQLite, read-only, behind the adapter's back: the tests'
/// independent view of what the server really stored.
final class DatabaseInspector {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private var handle: OpaquePointer?

    init(path: String) throws {
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw Failure(description: "cannot open \(path) read-only: \(message)")
        }
    }

    deinit { sqlite3_close_v2(handle) }

    /// The rows `sql` returns, each as its columns rendered as text (NULL as "NULL").
    func rows(_ sql: String, _ parameters: [String] = []) throws -> [[String]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(handle)))")
        }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
        for (index, parameter) in parameters.enumerated() {
            guard sqlite3_bind_text(statement, Int32(index + 1), parameter, -1, transient) == SQLITE_OK else {
                throw Failure(description: "\(sql): cannot bind parameter \(index + 1)")
            }
        }
        var rows: [[String]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw Failure(description: "\(sql): \(String(cString: sqlite3_errmsg(handle)))") }
            rows.append((0..<sqlite3_column_count(statement)).map { column in
                sqlite3_column_text(statement, column).map { String(cString: $0) } ?? "NULL"
            })
        }
    }

    /// The single integer `sql` returns (a count).
    func count(_ sql: String, _ parameters: [String] = []) throws -> Int {
        guard let value = try rows(sql, parameters).first?.first, let number = Int(value) else {
            throw Failure(description: "\(sql): no integer result")
        }
        return number
    }

    /// `PRAGMA integrity_check`: ["ok"] for a sound file.
    func integrityCheck() throws -> [String] {
        try rows("PRAGMA integrity_check").map { $0.first ?? "" }
    }
}
