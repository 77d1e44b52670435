import Primitives
import ServerCore

/// ``BlockStore`` over the server's SQLite file; vended by ``SQLiteServerStore``. Passes
/// `BlockStoreContract`.
public struct SQLiteBlockStore: BlockStore {
    private let database: SQLiteDatabase

    init(database: SQLiteDatabase) {
        self.database = database
    }

    public func block(_ blocked: Username, by blocker: Username) throws(StoreError) {
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO blocks (blocker, blocked) VALUES (?, ?) ON CONFLICT DO NOTHING", [.username(blocker), .username(blocked)])
        }
    }

    public func unblock(_ blocked: Username, by blocker: Username) throws(StoreError) {
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM blocks WHERE blocker = ? AND blocked = ?", [.username(blocker), .username(blocked)])
        }
    }

    public func isBlocked(sender: Username, by recipient: Username) throws(StoreError) -> Bool {
        try database.read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?", [.username(recipient), .username(sender)]
            ) { _ in true } ?? false
        }
    }

    public func blocked(by blocker: Username) throws(StoreError) -> [Username] {
        try database.withConnection { connection throws(StoreError) in
            // BINARY collation on normalised ASCII names is the same order as `Username`'s `<`.
            try connection.query("SELECT blocked FROM blocks WHERE blocker = ? ORDER BY blocked", [.username(blocker)]) { row throws(StoreError) in
                try row.username(0)
            }
        }
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try database.transaction { connection throws(StoreError) in
            try connection.execute("DELETE FROM blocks WHERE blocker = ?", [.username(user)])
            try connection.execute("DELETE FROM blocks WHERE blocked = ?", [.username(user)])
        }
    }
}
