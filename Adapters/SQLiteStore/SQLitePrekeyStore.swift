import Prekeys
import Primitives

/// ``PrekeyStore`` over the server's SQLite file; vended by ``SQLiteServerStore``. Passes
/// `PrekeyStoreContract`.
public struct SQLitePrekeyStore: PrekeyStore {
    private let database: SQLiteDatabase

    init(database: SQLiteDatabase) {
        self.database = database
    }

    public func setSignedPrekey(_ prekey: SignedPrekey, for user: Username) throws(StoreError) {
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                """
                INSERT INTO signed_prekeys (username, id, public_key, signature) VALUES (?, ?, ?, ?)
                ON CONFLICT (username) DO UPDATE SET id = excluded.id, public_key = excluded.public_key, signature = excluded.signature
                """,
                [.username(user), .integer(Int64(prekey.id)), .blob(prekey.publicKey.bytes), .blob(prekey.signature.bytes)])
        }
    }

    public func addOneTimePrekeys(_ prekeys: [OneTimePrekey], for user: Username) throws(StoreError) {
        try database.transaction { connection throws(StoreError) in
            for prekey in prekeys {
                try connection.execute(
                    "INSERT INTO one_time_prekeys (username, id, public_key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [.username(user), .integer(Int64(prekey.id)), .blob(prekey.publicKey.bytes)])
            }
        }
    }

    public func takePrekeys(for user: Username) throws(StoreError) -> (signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?)? {
        // SELECT and DELETE in one BEGIN IMMEDIATE transaction: the write lock is held from the
        // start, so no other connection (or process) can take the same one-time prekey.
        try database.transaction { connection throws(StoreError) -> (signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?)? in
            let signed = try connection.queryFirst(
                "SELECT id, public_key, signature FROM signed_prekeys WHERE username = ?", [.username(user)]
            ) { row throws(StoreError) in
                SignedPrekey(
                    id: try row.uint32(0),
                    publicKey: try row.decoded(1) { bytes throws(CryptoError) in try X25519PublicKey(bytes: bytes) },
                    signature: try row.decoded(2) { bytes throws(CryptoError) in try Ed25519Signature(bytes: bytes) })
            }
            guard let signed else { return nil }
            let oneTime = try connection.queryFirst(
                "SELECT id, public_key FROM one_time_prekeys WHERE username = ? ORDER BY id LIMIT 1", [.username(user)]
            ) { row throws(StoreError) in
                OneTimePrekey(
                    id: try row.uint32(0),
                    publicKey: try row.decoded(1) { bytes throws(CryptoError) in try X25519PublicKey(bytes: bytes) })
            }
            if let oneTime {
                try connection.execute(
                    "DELETE FROM one_time_prekeys WHERE username = ? AND id = ?", [.username(user), .integer(Int64(oneTime.id))])
            }
            return (signed, oneTime)
        }
    }

    public func signedPrekey(for user: Username) throws(StoreError) -> SignedPrekey? {
        try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT id, public_key, signature FROM signed_prekeys WHERE username = ?", [.username(user)]
            ) { row throws(StoreError) in
                SignedPrekey(
                    id: try row.uint32(0),
                    publicKey: try row.decoded(1) { bytes throws(CryptoError) in try X25519PublicKey(bytes: bytes) },
                    signature: try row.decoded(2) { bytes throws(CryptoError) in try Ed25519Signature(bytes: bytes) })
            }
        }
    }

    public func oneTimePrekeyIDs(for user: Username, limit: Int) throws(StoreError) -> [UInt32] {
        guard limit > 0 else { return [] }
        return try database.withConnection { connection throws(StoreError) in
            try connection.query(
                "SELECT id FROM one_time_prekeys WHERE username = ? ORDER BY id LIMIT ?", [.username(user), .integer(Int64(limit))]
            ) { row throws(StoreError) in try row.uint32(0) }
        }
    }

    public func oneTimePrekeyCount(for user: Username) throws(StoreError) -> Int {
        try database.withConnection { connection throws(StoreError) in
            Int(try connection.queryFirst("SELECT count(*) FROM one_time_prekeys WHERE username = ?", [.username(user)]) { row throws(StoreError) in
                try row.integer(0)
            } ?? 0)
        }
    }

    public func setLastResortKEMPrekey(_ prekey: KEMPrekey, for user: Username) throws(StoreError) {
        try database.transaction { connection throws(StoreError) in
            try connection.execute("DELETE FROM kem_prekeys WHERE username = ? AND last_resort = 1", [.username(user)])
            try connection.execute(
                "INSERT OR REPLACE INTO kem_prekeys (username, id, last_resort, public_key, signature) VALUES (?, ?, 1, ?, ?)",
                [.username(user), .integer(Int64(prekey.id)), .blob(prekey.publicKey.bytes), .blob(prekey.signature.bytes)])
        }
    }

    public func addOneTimeKEMPrekeys(_ prekeys: [KEMPrekey], for user: Username) throws(StoreError) {
        try database.transaction { connection throws(StoreError) in
            for prekey in prekeys {
                try connection.execute(
                    "INSERT INTO kem_prekeys (username, id, last_resort, public_key, signature) VALUES (?, ?, 0, ?, ?) ON CONFLICT DO NOTHING",
                    [.username(user), .integer(Int64(prekey.id)), .blob(prekey.publicKey.bytes), .blob(prekey.signature.bytes)])
            }
        }
    }

    public func takeKEMPrekey(for user: Username, allowOneTime: Bool) throws(StoreError) -> BundledKEMPrekey? {
        // As for one-time X25519 prekeys: SELECT and DELETE under one BEGIN IMMEDIATE.
        try database.transaction { connection throws(StoreError) -> BundledKEMPrekey? in
            let order = allowOneTime ? "last_resort ASC, id ASC" : "last_resort DESC"
            let condition = allowOneTime ? "" : " AND last_resort = 1"
            let found = try connection.queryFirst(
                "SELECT id, last_resort, public_key, signature FROM kem_prekeys WHERE username = ?\(condition) ORDER BY \(order) LIMIT 1",
                [.username(user)]
            ) { row throws(StoreError) in
                BundledKEMPrekey(
                    KEMPrekey(
                        id: try row.uint32(0),
                        publicKey: try row.decoded(2) { bytes throws(CryptoError) in try MLKEMPublicKey(bytes: bytes) },
                        signature: try row.decoded(3) { bytes throws(CryptoError) in try Ed25519Signature(bytes: bytes) }),
                    isLastResort: try row.integer(1) == 1)
            }
            if let found, !found.isLastResort {
                try connection.execute(
                    "DELETE FROM kem_prekeys WHERE username = ? AND id = ? AND last_resort = 0",
                    [.username(user), .integer(Int64(found.prekey.id))])
            }
            return found
        }
    }

    public func kemPrekeyStatus(for user: Username, limit: Int) throws(StoreError) -> (oneTimeIDs: [UInt32], lastResortID: UInt32?) {
        try database.withConnection { connection throws(StoreError) in
            let oneTime = limit <= 0 ? [] : try connection.query(
                "SELECT id FROM kem_prekeys WHERE username = ? AND last_resort = 0 ORDER BY id LIMIT ?", [.username(user), .integer(Int64(limit))]
            ) { row throws(StoreError) in try row.uint32(0) }
            let lastResort = try connection.queryFirst(
                "SELECT id FROM kem_prekeys WHERE username = ? AND last_resort = 1", [.username(user)]
            ) { row throws(StoreError) in try row.uint32(0) }
            return (oneTime, lastResort)
        }
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try database.transaction { connection throws(StoreError) in
            try connection.execute("DELETE FROM signed_prekeys WHERE username = ?", [.username(user)])
            try connection.execute("DELETE FROM one_time_prekeys WHERE username = ?", [.username(user)])
            try connection.execute("DELETE FROM kem_prekeys WHERE username = ?", [.username(user)])
        }
    }
}
