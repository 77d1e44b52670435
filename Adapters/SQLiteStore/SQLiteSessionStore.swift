import Conversations
import Primitives

/// ``SessionStore`` over the client's encrypted SQLite file; vended by ``SQLiteClientStore``.
/// Passes `SessionStoreContract`.
///
/// A session is stored as `Session.serialized()` (the Conversations module owns that format),
/// sealed under the peer's keyed hash. Throws `StoreError` only: `.corrupt` for a record that fails
/// authentication, does not decode, or names another peer; `.unavailable` for I/O failures.
public struct SQLiteSessionStore: SessionStore {
    private let database: SQLiteDatabase
    private let cipher: ClientRecordCipher

    init(database: SQLiteDatabase, cipher: ClientRecordCipher) {
        self.database = database
        self.cipher = cipher
    }

    public func session(with peer: Username) throws -> Session? {
        let peerHash = cipher.peerLookup(peer)
        let sealed = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT sealed FROM sessions WHERE peer_hash = ?", [.blob(peerHash)]) { row throws(StoreError) in
                try row.blob(0)
            }
        }
        guard let sealed else { return nil }
        let session = try cipher.openRecord(sealed, table: .sessions, lookups: [peerHash]) { bytes throws(DecodingError) in
            try Session(deserializing: SecretBytes(copying: bytes))
        }
        guard session.peer == peer else { throw StoreError.corrupt("the session filed under \(peer) is with someone else") }
        return session
    }

    public func saveSession(_ session: Session) throws {
        let peerHash = cipher.peerLookup(session.peer)
        let sealed = try cipher.seal(session.serialized(), table: .sessions, lookups: [peerHash])
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO sessions (peer_hash, sealed) VALUES (?, ?) ON CONFLICT (peer_hash) DO UPDATE SET sealed = excluded.sealed",
                [.blob(peerHash), .blob(sealed)])
        }
    }

    public func removeSession(with peer: Username) throws {
        let peerHash = cipher.peerLookup(peer)
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM sessions WHERE peer_hash = ?", [.blob(peerHash)])
        }
    }
}
