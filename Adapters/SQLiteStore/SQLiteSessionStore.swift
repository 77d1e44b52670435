import Conversations
import Primitives

/// ``SessionStore`` over the client's encrypted SQLite file; vended by ``SQLiteClientStore``.
/// Passes `SessionStoreContract`.
///
/// A record is stored as `SessionRecord.serialized()` (the Conversations module owns that
/// format), sealed under the peer's keyed hash in the `sessions` table. Schema 1 kept a bare
/// session there; those rows are rewritten as records when the file is opened (and would still
/// decode as records if that had not happened yet). Throws `StoreError` only: `.corrupt` for a
/// record that fails authentication, does not decode, or names another peer; `.diskFull` and
/// `.unavailable` for I/O failures.
public struct SQLiteSessionStore: SessionStore {
    private let database: SQLiteScope
    private let cipher: ClientRecordCipher

    init(database: SQLiteScope, cipher: ClientRecordCipher) {
        self.database = database
        self.cipher = cipher
    }

    public func record(with peer: Username) throws(StoreError) -> SessionRecord? {
        let peerHash = cipher.peerLookup(peer)
        let sealed = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT sealed FROM sessions WHERE peer_hash = ?", [.blob(peerHash)]) { row throws(StoreError) in
                try row.blob(0)
            }
        }
        guard let sealed else { return nil }
        let record = try Self.open(sealed, peerHash: peerHash, cipher: cipher)
        guard record.peer == peer else { throw StoreError.corrupt("the session record filed under \(peer) is with someone else") }
        return record
    }

    public func saveRecord(_ record: SessionRecord) throws(StoreError) {
        let peerHash = cipher.peerLookup(record.peer)
        let sealed = try cipher.seal(record.serialized(), table: .sessions, lookups: [peerHash])
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO sessions (peer_hash, sealed) VALUES (?, ?) ON CONFLICT (peer_hash) DO UPDATE SET sealed = excluded.sealed",
                [.blob(peerHash), .blob(sealed)])
        }
    }

    public func removeRecord(with peer: Username) throws(StoreError) {
        let peerHash = cipher.peerLookup(peer)
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM sessions WHERE peer_hash = ?", [.blob(peerHash)])
        }
    }

    static func open(_ sealed: [UInt8], peerHash: [UInt8], cipher: ClientRecordCipher) throws(StoreError) -> SessionRecord {
        try cipher.openRecord(sealed, table: .sessions, lookups: [peerHash]) { bytes throws(DecodingError) in
            try SessionRecord(deserializing: SecretBytes(copying: bytes))
        }
    }

    /// The data migration of schema 2: rewrites every schema-1 row (a bare session) as a session
    /// record, inside the caller's transaction. Idempotent: rows already holding a record are
    /// left alone.
    /// - Returns: how many rows were rewritten.
    static func migrateLegacySessions(on connection: SQLiteConnection, cipher: ClientRecordCipher) throws(StoreError) -> Int {
        let rows = try connection.query("SELECT peer_hash, sealed FROM sessions") { row throws(StoreError) in (try row.blob(0), try row.blob(1)) }
        var rewritten = 0
        for (peerHash, sealed) in rows {
            let (isLegacy, record) = try cipher.openRecord(sealed, table: .sessions, lookups: [peerHash]) { bytes throws(DecodingError) in
                (bytes.first == Session.encodingVersion, try SessionRecord(deserializing: SecretBytes(copying: bytes)))
            }
            guard isLegacy else { continue }
            let resealed = try cipher.seal(record.serialized(), table: .sessions, lookups: [peerHash])
            try connection.execute("UPDATE sessions SET sealed = ? WHERE peer_hash = ?", [.blob(resealed), .blob(peerHash)])
            rewritten += 1
        }
        return rewritten
    }
}
