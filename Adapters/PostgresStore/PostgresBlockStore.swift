import PostgresNIO
import Primitives
import ServerCore

/// ``BlockStore`` over PostgreSQL; vended by ``PostgresServerStore``. Passes
/// `BlockStoreContract`. Blocks its thread until PostgreSQL answers (see ``PostgresServerStore``).
public struct PostgresBlockStore: BlockStore {
    let pool: PostgresConnectionPool

    public func block(_ blocked: Username, by blocker: Username) throws(StoreError) {
        try pool.withSession { session throws(StoreError) in
            try session.execute("INSERT INTO blocks (blocker, blocked) VALUES (\(blocker.value), \(blocked.value)) ON CONFLICT DO NOTHING")
        }
    }

    public func unblock(_ blocked: Username, by blocker: Username) throws(StoreError) {
        try pool.withSession { session throws(StoreError) in
            try session.execute("DELETE FROM blocks WHERE blocker = \(blocker.value) AND blocked = \(blocked.value)")
        }
    }

    public func isBlocked(sender: Username, by recipient: Username) throws(StoreError) -> Bool {
        try pool.withSession { session throws(StoreError) in
            try !session.query("SELECT 1 FROM blocks WHERE blocker = \(recipient.value) AND blocked = \(sender.value)").isEmpty
        }
    }

    public func blocked(by blocker: Username) throws(StoreError) -> [Username] {
        try pool.withSession { session throws(StoreError) -> [Username] in
            // COLLATE "C" on normalised ASCII names is the same order as `Username`'s `<`.
            let rows = try session.query("SELECT blocked FROM blocks WHERE blocker = \(blocker.value) ORDER BY blocked")
            var names: [Username] = []
            for row in rows { names.append(try PostgresDecoding.username(try row.value(String.self))) }
            return names
        }
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try pool.withSession { session throws(StoreError) in
            try session.execute("DELETE FROM blocks WHERE blocker = \(user.value) OR blocked = \(user.value)")
        }
    }
}
