import Prekeys
import Primitives

/// ``LocalKeyStore`` over the client's encrypted SQLite file; vended by ``SQLiteClientStore``.
/// Passes `LocalKeyStoreContract`.
///
/// Every secret is sealed (see ``SQLiteClientStore``); prekey rows are found by a keyed hash of
/// their id. Signed prekeys are listed oldest first (by creation time, then id). Throws
/// `StoreError` only: `.corrupt` for a record that fails authentication or does not decode,
/// `.unavailable` when the file cannot be read or written.
public struct SQLiteLocalKeyStore: LocalKeyStore {
    private let database: SQLiteScope
    private let cipher: ClientRecordCipher

    init(database: SQLiteScope, cipher: ClientRecordCipher) {
        self.database = database
        self.cipher = cipher
    }

    public func identityKeyPair() throws(StoreError) -> Ed25519KeyPair? {
        let sealed = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT sealed FROM identity WHERE slot = 1") { row throws(StoreError) in try row.blob(0) }
        }
        guard let sealed else { return nil }
        return try cipher.openRecord(sealed, table: .identity, lookups: [], ClientRecordCoding.decodeIdentity)
    }

    public func setIdentityKeyPair(_ keyPair: Ed25519KeyPair) throws(StoreError) {
        var plaintext = ClientRecordCoding.encode(keyPair)
        let sealed = try cipher.seal(&plaintext, table: .identity, lookups: [])
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO identity (slot, sealed) VALUES (1, ?) ON CONFLICT (slot) DO UPDATE SET sealed = excluded.sealed",
                [.blob(sealed)])
        }
    }

    public func signedPrekeyPairs() throws(StoreError) -> [SignedPrekeyPair] {
        let rows = try database.withConnection { connection throws(StoreError) in
            try connection.query("SELECT id_hash, sealed FROM signed_prekeys") { row throws(StoreError) in (try row.blob(0), try row.blob(1)) }
        }
        let pairs = try rows.map { (idHash, sealed) throws(StoreError) in
            let pair = try cipher.openRecord(sealed, table: .signedPrekeys, lookups: [idHash], ClientRecordCoding.decodeSignedPrekey)
            guard cipher.prekeyLookup(pair.id) == idHash else { throw StoreError.corrupt("a signed prekey is filed under another id") }
            return pair
        }
        return pairs.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func addSignedPrekeyPair(_ pair: SignedPrekeyPair) throws(StoreError) {
        let idHash = cipher.prekeyLookup(pair.id)
        var plaintext = ClientRecordCoding.encode(pair)
        let sealed = try cipher.seal(&plaintext, table: .signedPrekeys, lookups: [idHash])
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO signed_prekeys (id_hash, sealed) VALUES (?, ?) ON CONFLICT (id_hash) DO UPDATE SET sealed = excluded.sealed",
                [.blob(idHash), .blob(sealed)])
        }
    }

    public func removeSignedPrekeyPair(id: UInt32) throws(StoreError) {
        let idHash = cipher.prekeyLookup(id)
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM signed_prekeys WHERE id_hash = ?", [.blob(idHash)])
        }
    }

    public func oneTimePrekeyPair(id: UInt32) throws(StoreError) -> OneTimePrekeyPair? {
        let idHash = cipher.prekeyLookup(id)
        let sealed = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT sealed FROM one_time_prekeys WHERE id_hash = ?", [.blob(idHash)]) { row throws(StoreError) in
                try row.blob(0)
            }
        }
        guard let sealed else { return nil }
        let pair = try cipher.openRecord(sealed, table: .oneTimePrekeys, lookups: [idHash], ClientRecordCoding.decodeOneTimePrekey)
        guard pair.id == id else { throw StoreError.corrupt("one-time prekey \(id) holds the key of another id") }
        return pair
    }

    public func addOneTimePrekeyPairs(_ pairs: [OneTimePrekeyPair]) throws(StoreError) {
        // Sealed before the transaction, so the lock is held only for the inserts.
        let rows = try pairs.map { pair throws(StoreError) in
            let idHash = cipher.prekeyLookup(pair.id)
            var plaintext = ClientRecordCoding.encode(pair)
            return (idHash, try cipher.seal(&plaintext, table: .oneTimePrekeys, lookups: [idHash]))
        }
        try database.transaction { connection throws(StoreError) in
            for (idHash, sealed) in rows {
                try connection.execute(
                    "INSERT INTO one_time_prekeys (id_hash, sealed) VALUES (?, ?) ON CONFLICT (id_hash) DO UPDATE SET sealed = excluded.sealed",
                    [.blob(idHash), .blob(sealed)])
            }
        }
    }

    public func removeOneTimePrekeyPair(id: UInt32) throws(StoreError) {
        let idHash = cipher.prekeyLookup(id)
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM one_time_prekeys WHERE id_hash = ?", [.blob(idHash)])
        }
    }

    public func kemPrekeyPairs() throws(StoreError) -> [KEMPrekeyPair] {
        let rows = try database.withConnection { connection throws(StoreError) in
            try connection.query("SELECT id_hash, sealed FROM kem_prekeys") { row throws(StoreError) in (try row.blob(0), try row.blob(1)) }
        }
        let pairs = try rows.map { (idHash, sealed) throws(StoreError) in
            let pair = try cipher.openRecord(sealed, table: .kemPrekeys, lookups: [idHash], ClientRecordCoding.decodeKEMPrekey)
            guard cipher.kemPrekeyLookup(pair.id) == idHash else { throw StoreError.corrupt("an ML-KEM prekey is filed under another id") }
            return pair
        }
        return pairs.sorted { $0.id < $1.id }
    }

    public func kemPrekeyPair(id: UInt32) throws(StoreError) -> KEMPrekeyPair? {
        let idHash = cipher.kemPrekeyLookup(id)
        let sealed = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT sealed FROM kem_prekeys WHERE id_hash = ?", [.blob(idHash)]) { row throws(StoreError) in
                try row.blob(0)
            }
        }
        guard let sealed else { return nil }
        let pair = try cipher.openRecord(sealed, table: .kemPrekeys, lookups: [idHash], ClientRecordCoding.decodeKEMPrekey)
        guard pair.id == id else { throw StoreError.corrupt("ML-KEM prekey \(id) holds the key of another id") }
        return pair
    }

    public func addKEMPrekeyPairs(_ pairs: [KEMPrekeyPair]) throws(StoreError) {
        let rows = try pairs.map { pair throws(StoreError) in
            let idHash = cipher.kemPrekeyLookup(pair.id)
            var plaintext = ClientRecordCoding.encode(pair)
            return (idHash, try cipher.seal(&plaintext, table: .kemPrekeys, lookups: [idHash]))
        }
        try database.transaction { connection throws(StoreError) in
            for (idHash, sealed) in rows {
                try connection.execute(
                    "INSERT INTO kem_prekeys (id_hash, sealed) VALUES (?, ?) ON CONFLICT (id_hash) DO UPDATE SET sealed = excluded.sealed",
                    [.blob(idHash), .blob(sealed)])
            }
        }
    }

    public func removeKEMPrekeyPair(id: UInt32) throws(StoreError) {
        let idHash = cipher.kemPrekeyLookup(id)
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM kem_prekeys WHERE id_hash = ?", [.blob(idHash)])
        }
    }
}
