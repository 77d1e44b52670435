import PostgresNIO
import Primitives
import ServerCore

/// ``AccountDeletionStore`` over PostgreSQL; vended by ``PostgresServerStore``: the user's rows in
/// every table deleted in one transaction (the mailbox total adjusted in it; the session owner
/// row too, so a node re-checking its sessions sees the account gone). Passes
/// `AccountDeletionStoreContract`. Blocks its thread until PostgreSQL answers.
public struct PostgresAccountDeletionStore: AccountDeletionStore {
    let pool: PostgresConnectionPool

    public func deleteAccount(_ username: Username) throws(StoreError) -> Bool {
        try pool.transaction { session throws(StoreError) -> Bool in
            let user = username.value
            try session.execute("DELETE FROM signed_prekeys WHERE username = \(user)")
            try session.execute("DELETE FROM one_time_prekeys WHERE username = \(user)")
            try session.execute("DELETE FROM kem_prekeys WHERE username = \(user)")
            try PostgresMailboxStore.deleteAll(for: username, session)
            try session.execute("DELETE FROM blocks WHERE blocker = \(user) OR blocked = \(user)")
            try session.execute("DELETE FROM session_owners WHERE username = \(user)")
            return try session.execute("DELETE FROM accounts WHERE username = \(user)") > 0
        }
    }
}
