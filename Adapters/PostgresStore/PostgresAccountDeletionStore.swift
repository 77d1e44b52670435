import PostgresNIO
import Primitives
import ServerCore

/// ``AccountDeletionStore`` over PostgreSQL; vended by ``PostgresServerStore``: the user's rows in
/// every table deleted in one transaction (the user's mailbox head row locked first and this
/// node's mailbox total row adjusted, see `PostgresMailboxStore`), and the session owner row
/// turned into a tombstone (no token, the next generation), so that a node re-checking its
/// sessions after a listener outage ends the deleted account's ones. Passes
/// `AccountDeletionStoreContract`. Blocks its thread until PostgreSQL answers.
public struct PostgresAccountDeletionStore: AccountDeletionStore {
    let pool: PostgresConnectionPool
    /// The node whose mailbox total row the deleted mail is taken off.
    let nodeID: String

    public func deleteAccount(_ username: Username) throws(StoreError) -> Bool {
        try pool.transaction { session throws(StoreError) -> Bool in
            let user = username.value
            try session.execute("DELETE FROM signed_prekeys WHERE username = \(user)")
            try session.execute("DELETE FROM one_time_prekeys WHERE username = \(user)")
            try session.execute("DELETE FROM kem_prekeys WHERE username = \(user)")
            try PostgresMailboxStore.deleteAll(for: username, node: nodeID, session)
            try session.execute("DELETE FROM blocks WHERE blocker = \(user) OR blocked = \(user)")
            guard try session.execute("DELETE FROM accounts WHERE username = \(user)") > 0 else { return false }
            try session.execute(
                """
                INSERT INTO session_owners AS owner (username, token, node, generation) VALUES (\(user), NULL, NULL, 1)
                ON CONFLICT (username) DO UPDATE SET token = NULL, node = NULL, generation = owner.generation + 1
                """)
            return true
        }
    }
}
