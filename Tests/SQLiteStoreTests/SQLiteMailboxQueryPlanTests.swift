import Primitives
@testable import SQLiteStore
import Testing

/// The mailbox store's statements against the server schema: each finds its rows by a key.
@Suite("SQLite mailbox query plans")
struct SQLiteMailboxQueryPlanTests {
    /// Every statement the store runs is a search by a key or index (no scan of a table, no
    /// temporary b-tree to sort pending mail), so its cost does not grow with the number of
    /// envelopes queued for others.
    @Test(arguments: SQLiteMailboxStore.Statements.keyed)
    func theStatementSearchesByKey(_ sql: String) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try SQLiteServerStore(path: path).close()
        let plan = try RawSQLite.query("EXPLAIN QUERY PLAN " + sql, onDatabaseAt: path).compactMap { row -> String? in
            guard case .text(let detail) = row.last else { return nil }
            return detail
        }
        #expect(!plan.isEmpty, "no plan for \(sql)")
        for step in plan {
            #expect(step.hasPrefix("SEARCH "), "\(sql): \(step)")
        }
    }
}
