import NIOCore
import PostgresNIO
import Prekeys
import Primitives

/// ``PrekeyStore`` over PostgreSQL; vended by ``PostgresServerStore``. Passes
/// `PrekeyStoreContract`. Blocks its thread until PostgreSQL answers (see ``PostgresServerStore``).
///
/// A one-time prekey is taken with `DELETE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED
/// LIMIT 1) RETURNING`: two nodes fetching the same bundle at the same instant lock different rows,
/// so neither waits and no key is handed out twice. One-time ML-KEM prekeys are taken the same way;
/// the last-resort one is only read, never removed by a take.
public struct PostgresPrekeyStore: PrekeyStore {
    let pool: PostgresConnectionPool

    public func setSignedPrekey(_ prekey: SignedPrekey, for user: Username) throws(StoreError) {
        try pool.withSession { session throws(StoreError) in
            try session.execute(
                """
                INSERT INTO signed_prekeys (username, id, public_key, signature)
                VALUES (\(user.value), \(Int64(prekey.id)), \(prekey.publicKey.bytes.bytea), \(prekey.signature.bytes.bytea))
                ON CONFLICT (username) DO UPDATE SET id = excluded.id, public_key = excluded.public_key, signature = excluded.signature
                """)
        }
    }

    public func addOneTimePrekeys(_ prekeys: [OneTimePrekey], for user: Username) throws(StoreError) {
        guard !prekeys.isEmpty else { return }
        // One statement for the whole upload: arrays of ids and keys, unnested side by side.
        let ids = prekeys.map { Int64($0.id) }
        let keys = prekeys.map { $0.publicKey.bytes.bytea }
        try pool.withSession { session throws(StoreError) in
            try session.execute(
                """
                INSERT INTO one_time_prekeys (username, id, public_key)
                SELECT \(user.value), id, key FROM unnest(\(ids)::bigint[], \(keys)::bytea[]) AS upload (id, key)
                ON CONFLICT DO NOTHING
                """)
        }
    }

    public func takePrekeys(for user: Username) throws(StoreError) -> (signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?)? {
        try pool.transaction { session throws(StoreError) -> (signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?)? in
            guard let signed = try Self.signedPrekey(for: user, session) else { return nil }
            let rows = try session.query(
                """
                DELETE FROM one_time_prekeys WHERE username = \(user.value) AND id = (
                    SELECT id FROM one_time_prekeys WHERE username = \(user.value) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING id, public_key
                """)
            guard let row = rows.first else { return (signed, nil) }
            let (id, key) = try row.values((Int64, ByteBuffer).self)
            let oneTime = OneTimePrekey(
                id: try PostgresDecoding.uint32(id),
                publicKey: try PostgresDecoding.key(key) { bytes throws(CryptoError) in try X25519PublicKey(bytes: bytes) })
            return (signed, oneTime)
        }
    }

    public func signedPrekey(for user: Username) throws(StoreError) -> SignedPrekey? {
        try pool.withSession { session throws(StoreError) in try Self.signedPrekey(for: user, session) }
    }

    private static func signedPrekey(for user: Username, _ session: PostgresSession) throws(StoreError) -> SignedPrekey? {
        let rows = try session.query("SELECT id, public_key, signature FROM signed_prekeys WHERE username = \(user.value)")
        guard let row = rows.first else { return nil }
        let (id, key, signature) = try row.values((Int64, ByteBuffer, ByteBuffer).self)
        return SignedPrekey(
            id: try PostgresDecoding.uint32(id),
            publicKey: try PostgresDecoding.key(key) { bytes throws(CryptoError) in try X25519PublicKey(bytes: bytes) },
            signature: try PostgresDecoding.key(signature) { bytes throws(CryptoError) in try Ed25519Signature(bytes: bytes) })
    }

    public func oneTimePrekeyIDs(for user: Username, limit: Int) throws(StoreError) -> [UInt32] {
        guard limit > 0 else { return [] }
        return try pool.withSession { session throws(StoreError) -> [UInt32] in
            let rows = try session.query(
                "SELECT id FROM one_time_prekeys WHERE username = \(user.value) ORDER BY id LIMIT \(Int64(limit))")
            var ids: [UInt32] = []
            for row in rows { ids.append(try PostgresDecoding.uint32(try row.value(Int64.self))) }
            return ids
        }
    }

    public func oneTimePrekeyCount(for user: Username) throws(StoreError) -> Int {
        try pool.withSession { session throws(StoreError) -> Int in
            let rows = try session.query("SELECT count(*) FROM one_time_prekeys WHERE username = \(user.value)")
            return Int(try rows.first?.value(Int64.self) ?? Int64(0))
        }
    }

    public func setLastResortKEMPrekey(_ prekey: KEMPrekey, for user: Username) throws(StoreError) {
        try pool.transaction { session throws(StoreError) in
            // As SQLite's INSERT OR REPLACE: a one-time key with the same id gives way. The upsert
            // on the partial unique index replaces the previous last-resort key even when two
            // nodes set one at the same instant (the second waits for the first, then updates).
            try session.execute(
                "DELETE FROM kem_prekeys WHERE username = \(user.value) AND id = \(Int64(prekey.id)) AND NOT last_resort")
            try session.execute(
                """
                INSERT INTO kem_prekeys (username, id, last_resort, public_key, signature)
                VALUES (\(user.value), \(Int64(prekey.id)), true, \(prekey.publicKey.bytes.bytea), \(prekey.signature.bytes.bytea))
                ON CONFLICT (username) WHERE last_resort
                DO UPDATE SET id = excluded.id, public_key = excluded.public_key, signature = excluded.signature
                """)
        }
    }

    public func addOneTimeKEMPrekeys(_ prekeys: [KEMPrekey], for user: Username) throws(StoreError) {
        guard !prekeys.isEmpty else { return }
        let ids = prekeys.map { Int64($0.id) }
        let keys = prekeys.map { $0.publicKey.bytes.bytea }
        let signatures = prekeys.map { $0.signature.bytes.bytea }
        try pool.withSession { session throws(StoreError) in
            try session.execute(
                """
                INSERT INTO kem_prekeys (username, id, last_resort, public_key, signature)
                SELECT \(user.value), id, false, key, signature
                FROM unnest(\(ids)::bigint[], \(keys)::bytea[], \(signatures)::bytea[]) AS upload (id, key, signature)
                ON CONFLICT DO NOTHING
                """)
        }
    }

    public func takeKEMPrekey(for user: Username, allowOneTime: Bool) throws(StoreError) -> BundledKEMPrekey? {
        try pool.transaction { session throws(StoreError) -> BundledKEMPrekey? in
            if allowOneTime {
                let rows = try session.query(
                    """
                    DELETE FROM kem_prekeys WHERE username = \(user.value) AND NOT last_resort AND id = (
                        SELECT id FROM kem_prekeys WHERE username = \(user.value) AND NOT last_resort
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING id, public_key, signature
                    """)
                if let row = rows.first { return BundledKEMPrekey(try Self.kemPrekey(row), isLastResort: false) }
            }
            let rows = try session.query(
                "SELECT id, public_key, signature FROM kem_prekeys WHERE username = \(user.value) AND last_resort")
            return try rows.first.map { row throws(StoreError) in BundledKEMPrekey(try Self.kemPrekey(row), isLastResort: true) }
        }
    }

    private static func kemPrekey(_ row: PostgresRow) throws(StoreError) -> KEMPrekey {
        let (id, key, signature) = try row.values((Int64, ByteBuffer, ByteBuffer).self)
        return KEMPrekey(
            id: try PostgresDecoding.uint32(id),
            publicKey: try PostgresDecoding.key(key) { bytes throws(CryptoError) in try MLKEMPublicKey(bytes: bytes) },
            signature: try PostgresDecoding.key(signature) { bytes throws(CryptoError) in try Ed25519Signature(bytes: bytes) })
    }

    public func kemPrekeyStatus(for user: Username, limit: Int) throws(StoreError) -> (oneTimeIDs: [UInt32], lastResortID: UInt32?) {
        try pool.withSession { session throws(StoreError) -> (oneTimeIDs: [UInt32], lastResortID: UInt32?) in
            var oneTime: [UInt32] = []
            if limit > 0 {
                let rows = try session.query(
                    "SELECT id FROM kem_prekeys WHERE username = \(user.value) AND NOT last_resort ORDER BY id LIMIT \(Int64(limit))")
                for row in rows { oneTime.append(try PostgresDecoding.uint32(try row.value(Int64.self))) }
            }
            let rows = try session.query("SELECT id FROM kem_prekeys WHERE username = \(user.value) AND last_resort")
            let lastResort = try rows.first.map { row throws(StoreError) in try PostgresDecoding.uint32(try row.value(Int64.self)) }
            return (oneTime, lastResort)
        }
    }

    public func removeAll(for user: Username) throws(StoreError) {
        try pool.transaction { session throws(StoreError) in
            try session.execute("DELETE FROM signed_prekeys WHERE username = \(user.value)")
            try session.execute("DELETE FROM one_time_prekeys WHERE username = \(user.value)")
            try session.execute("DELETE FROM kem_prekeys WHERE username = \(user.value)")
        }
    }
}
