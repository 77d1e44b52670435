import Primitives
import ServerCore

/// ``AccountDeletionStore`` over the server's SQLite file; vended by ``SQLiteServerStore``: the
/// tables' rows about the user (the mailbox's with its usage rows) deleted in one `BEGIN IMMEDIATE` transaction. Passes
/// `AccountDeletionStoreContract`.
public struct SQLiteAccountDeletionStore: AccountDeletionStore {
    private let database: SQLiteDatabase

    init(database: SQLiteDatabase) {
        self.database = database
    }

    public func deleteAccount(_ username: Username) throws(StoreError) -> Bool {
        try database.transaction { connection throws(StoreError) in
            let user: [SQLiteValue] = [.username(username)]
            try connection.execute("DELETE FROM signed_prekeys WHERE username = ?", user)
            try connection.execute("DELETE FROM one_time_prekeys WHERE username = ?", user)
            try connection.execute("DELETE FROM kem_prekeys WHERE username = ?", user)
            try SQLiteMailboxStore.removeQueue(of: username, connection)
            try connection.execute("DELETE FROM blocks WHERE blocker = ?", user)
            try connection.execute("DELETE FROM blocks WHERE blocked = ?", user)
            return try connection.execute("DELETE FROM accounts WHERE username = ?", user) > 0
        }
    }
}
