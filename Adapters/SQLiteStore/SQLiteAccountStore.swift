import Accounts
import Primitives

/// ``AccountStore`` over the server's SQLite file; vended by ``SQLiteServerStore``. Passes
/// `AccountStoreContract`.
public struct SQLiteAccountStore: AccountStore {
    private let database: SQLiteDatabase

    init(database: SQLiteDatabase) {
        self.database = database
    }

    public func create(_ record: AccountRecord) throws(StoreError) {
        try database.withConnection { connection throws(StoreError) in
            do throws(StoreError) {
                try connection.execute(
                    """
                    INSERT INTO accounts (username, password_hash, identity_key, identity_signature, created_at, failed_login_count, locked_until)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                    [.username(record.username), .text(record.passwordHash), .blob(record.identityKey.bytes),
                     record.identitySignature.map { .blob($0.bytes) } ?? .null,
                     .timestamp(record.createdAt), .integer(Int64(record.failedLoginCount)), .timestamp(record.lockedUntil)])
            } catch .alreadyExists {
                // The primary key (username) or the unique index on identity_key.
                throw .alreadyExists("account \(record.username) or its identity key")
            }
        }
    }

    public func find(_ username: Username) throws(StoreError) -> AccountRecord? {
        try database.read { connection throws(StoreError) in
            try connection.queryFirst(
                """
                SELECT username, password_hash, identity_key, created_at, failed_login_count, locked_until, identity_signature
                FROM accounts WHERE username = ?
                """,
                [.username(username)]
            ) { row throws(StoreError) in
                AccountRecord(
                    username: try row.username(0),
                    passwordHash: try row.text(1),
                    identityKey: try row.decoded(2) { bytes throws(CryptoError) in try Ed25519PublicKey(bytes: bytes) },
                    identitySignature: try row.isNull(6) ? nil : row.decoded(6) { bytes throws(CryptoError) in try Ed25519Signature(bytes: bytes) },
                    createdAt: try row.timestamp(3),
                    failedLoginCount: Int(try row.integer(4)),
                    lockedUntil: try row.optionalTimestamp(5))
            }
        }
    }

    public func username(withIdentityKey identityKey: Ed25519PublicKey) throws(StoreError) -> Username? {
        try database.read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT username FROM accounts WHERE identity_key = ?", [.blob(identityKey.bytes)]
            ) { row throws(StoreError) in try row.username(0) }
        }
    }

    public func updatePasswordHash(_ passwordHash: String, for username: Username) throws(StoreError) {
        try database.withConnection { connection throws(StoreError) in
            let changed = try connection.execute(
                "UPDATE accounts SET password_hash = ? WHERE username = ?", [.text(passwordHash), .username(username)])
            guard changed == 1 else { throw .notFound("account \(username)") }
        }
    }

    public func updateLoginThrottle(for username: Username, from expected: LoginThrottle, to new: LoginThrottle) throws(StoreError) -> Bool {
        // One transaction, so "no row changed" is told apart from "no such account" atomically.
        try database.transaction { connection throws(StoreError) in
            let changed = try connection.execute(
                """
                UPDATE accounts SET failed_login_count = ?, locked_until = ?
                WHERE username = ? AND failed_login_count = ? AND locked_until IS ?
                """,
                [.integer(Int64(new.failedLoginCount)), .timestamp(new.lockedUntil), .username(username),
                 .integer(Int64(expected.failedLoginCount)), .timestamp(expected.lockedUntil)])
            if changed == 1 { return true }
            let exists = try connection.queryFirst("SELECT 1 FROM accounts WHERE username = ?", [.username(username)]) { _ in true }
            guard exists != nil else { throw .notFound("account \(username)") }
            return false
        }
    }

    public func delete(_ username: Username) throws(StoreError) -> Bool {
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM accounts WHERE username = ?", [.username(username)]) > 0
        }
    }
}
