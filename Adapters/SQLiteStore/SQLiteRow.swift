internal import CSQLite
import Primitives

/// One row of a result, read by column index. Reading a column as the wrong type is reported as
/// corruption: the schema is STRICT, so a mismatch means the file was altered behind our back.
struct SQLiteRow {
    /// Valid only inside the `query` callback that received the row.
    let statement: OpaquePointer

    func integer(_ column: Int32) throws(StoreError) -> Int64 {
        guard sqlite3_column_type(statement, column) == SQLITE_INTEGER else { throw typeError(column, "integer") }
        return sqlite3_column_int64(statement, column)
    }

    func optionalInteger(_ column: Int32) throws(StoreError) -> Int64? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : try integer(column)
    }

    func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(statement, column) == SQLITE_NULL
    }

    func text(_ column: Int32) throws(StoreError) -> String {
        guard sqlite3_column_type(statement, column) == SQLITE_TEXT else { throw typeError(column, "text") }
        let count = Int(sqlite3_column_bytes(statement, column))
        guard let base = sqlite3_column_text(statement, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) throws(StoreError) -> [UInt8] {
        guard sqlite3_column_type(statement, column) == SQLITE_BLOB else { throw typeError(column, "blob") }
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let base = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    private func typeError(_ column: Int32, _ expected: String) -> StoreError {
        .corrupt("column \(column) is not \(expected)")
    }
}
