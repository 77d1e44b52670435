import Accounts
import NIOCore
import PostgresNIO
import Primitives

/// ``AccountStore`` over PostgreSQL; vended by ``PostgresServerStore``. Passes
/// `AccountStoreContract`. Blocks its thread until PostgreSQL answers (see ``PostgresServerStore``).
public struct PostgresAccountStore: AccountStore {
    let pool: PostgresConnectionPool

    public func create(_ record: AccountRecord) throws(StoreError) {
        try pool.withSession { session throws(StoreError) in
            do throws(StoreError) {
                try session.execute(
                    """
                    INSERT INTO accounts (username, password_hash, identity_key, identity_signature, created_at, failed_login_count, locked_until)
                    VALUES (\(record.username.value), \(record.passwordHash), \(record.identityKey.bytes.bytea),
                            \(record.identitySignature.map { $0.bytes.bytea }), \(record.createdAt.millisecondsSinceEpoch),
                            \(Int64(record.failedLoginCount)), \(record.lockedUntil?.millisecondsSinceEpoch))
                    """)
            } catch .alreadyExists {
                // The primary key (username) or the unique index on identity_key.
                throw .alreadyExists("account \(record.username) or its identity key")
            }
        }
    }

    public func find(_ username: Username) throws(StoreError) -> AccountRecord? {
        try pool.withSession { session throws(StoreError) -> AccountRecord? in
            let rows = try session.query(
                """
                SELECT username, password_hash, identity_key, created_at, failed_login_count, locked_until, identity_signature
                FROM accounts WHERE username = \(username.value)
                """)
            guard let row = rows.first else { return nil }
            let (name, hash, key, createdAt, failed, lockedUntil, signature) = try row.values(
                (String, String, ByteBuffer, Int64, Int64, Int64?, ByteBuffer?).self)
            return AccountRecord(
                username: try PostgresDecoding.username(name),
                passwordHash: hash,
                identityKey: try PostgresDecoding.key(key) { bytes throws(CryptoError) in try Ed25519PublicKey(bytes: bytes) },
                identitySignature: try signature.map { buffer throws(StoreError) in
                    try PostgresDecoding.key(buffer) { bytes throws(CryptoError) in try Ed25519Signature(bytes: bytes) }
                },
                createdAt: Timestamp(millisecondsSinceEpoch: createdAt),
                failedLoginCount: Int(failed),
                lockedUntil: lockedUntil.map(Timestamp.init(millisecondsSinceEpoch:)))
        }
    }

    public func username(withIdentityKey identityKey: Ed25519PublicKey) throws(StoreError) -> Username? {
        try pool.withSession { session throws(StoreError) -> Username? in
            let rows = try session.query("SELECT username FROM accounts WHERE identity_key = \(identityKey.bytes.bytea)")
            guard let row = rows.first else { return nil }
            return try PostgresDecoding.username(try row.value(String.self))
        }
    }

    public func updatePasswordHash(_ passwordHash: String, for username: Username) throws(StoreError) {
        try pool.withSession { session throws(StoreError) in
            let changed = try session.execute("UPDATE accounts SET password_hash = \(passwordHash) WHERE username = \(username.value)")
            guard changed == 1 else { throw .notFound("account \(username)") }
        }
    }

    public func updateLoginThrottle(for username: Username, from expected: LoginThrottle, to new: LoginThrottle) throws(StoreError) -> Bool {
        // One transaction, so "no row changed" is told apart from "no such account" atomically.
        try pool.transaction { session throws(StoreError) -> Bool in
            let changed = try session.execute(
                """
                UPDATE accounts SET failed_login_count = \(Int64(new.failedLoginCount)), locked_until = \(new.lockedUntil?.millisecondsSinceEpoch)
                WHERE username = \(username.value) AND failed_login_count = \(Int64(expected.failedLoginCount))
                AND locked_until IS NOT DISTINCT FROM \(expected.lockedUntil?.millisecondsSinceEpoch)::bigint
                """)
            if changed == 1 { return true }
            guard try !session.query("SELECT 1 FROM accounts WHERE username = \(username.value)").isEmpty else {
                throw .notFound("account \(username)")
            }
            return false
        }
    }

    public func delete(_ username: Username) throws(StoreError) -> Bool {
        try pool.withSession { session throws(StoreError) in
            try session.execute("DELETE FROM accounts WHERE username = \(username.value)") > 0
        }
    }
}
