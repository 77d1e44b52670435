import ClientCore
import Conversations
import Envelope
import Primitives

/// ``HistoryStore`` over the client's encrypted SQLite file; vended by ``SQLiteClientStore``.
/// Passes `HistoryStoreContract`.
///
/// Each entry is one row: the keyed hashes of its peer and message id in clear (for lookups and
/// dedupe), an insertion counter for order, and everything else, the timestamps included, sealed
/// and bound to both hashes. Throws `StoreError` only: `.corrupt` for an entry that fails
/// authentication, does not decode or is filed under another peer or id; `.limitReached` for text
/// beyond ``SQLiteClientStore/Limits``; `.unavailable` for I/O failures.
public struct SQLiteHistoryStore: HistoryStore {
    private let database: SQLiteScope
    private let cipher: ClientRecordCipher

    /// The newest `?` entries of one peer (`peer_hash = ?`), newest first. One statement, shared
    /// with the test that checks it is answered from the `history_by_peer` index.
    static let recentEntriesStatement = "SELECT message_hash, sealed FROM history WHERE peer_hash = ? ORDER BY seq DESC LIMIT ?"

    init(database: SQLiteScope, cipher: ClientRecordCipher) {
        self.database = database
        self.cipher = cipher
    }

    /// Appends `entry` unless its message id is already stored (the `UNIQUE` index on the id's
    /// hash decides, atomically, so two deliveries racing still store one row).
    @discardableResult
    public func append(_ entry: HistoryEntry) throws(StoreError) -> Bool {
        try Self.checkLimits(entry)
        let peerHash = cipher.peerLookup(entry.peer)
        let messageHash = cipher.lookup(.message, entry.id.bytes)
        var plaintext = ClientRecordCoding.encode(entry)
        let sealed = try cipher.seal(&plaintext, table: .history, lookups: [peerHash, messageHash])
        let inserted = try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO history (peer_hash, message_hash, sealed) VALUES (?, ?, ?) ON CONFLICT (message_hash) DO NOTHING",
                [.blob(peerHash), .blob(messageHash), .blob(sealed)])
        }
        return inserted == 1
    }

    public func contains(_ id: MessageID) throws(StoreError) -> Bool {
        let messageHash = cipher.lookup(.message, id.bytes)
        return try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT 1 FROM history WHERE message_hash = ?", [.blob(messageHash)]) { _ in true } ?? false
        }
    }

    public func entries(with peer: Username, limit: Int) throws(StoreError) -> [HistoryEntry] {
        guard limit > 0 else { return [] }
        let peerHash = cipher.peerLookup(peer)
        // Newest first through history_by_peer, stopping after `limit` rows; reversed below.
        let rows = try database.withConnection { connection throws(StoreError) in
            try connection.query(
                Self.recentEntriesStatement,
                [.blob(peerHash), .integer(Int64(limit))]
            ) { row throws(StoreError) in (try row.blob(0), try row.blob(1)) }
        }
        return try rows.reversed().map { (messageHash, sealed) throws(StoreError) in
            try open(sealed, peer: peer, peerHash: peerHash, messageHash: messageHash)
        }
    }

    public func raiseStatus(of ids: [MessageID], to status: HistoryEntry.Status) throws(StoreError) {
        let hashes = Set(ids).map { cipher.lookup(.message, $0.bytes) }
        try database.transaction { connection throws(StoreError) in
            for messageHash in hashes {
                let row = try connection.queryFirst(
                    "SELECT seq, peer_hash, sealed FROM history WHERE message_hash = ?", [.blob(messageHash)]
                ) { row throws(StoreError) in (try row.integer(0), try row.blob(1), try row.blob(2)) }
                guard let (seq, peerHash, sealed) = row else { continue }
                var entry = try open(sealed, peer: nil, peerHash: peerHash, messageHash: messageHash)
                // Only our own messages have a delivery status, and it only moves forward: a late
                // "delivered" after "read" changes nothing.
                guard entry.direction == .sent, entry.status < status else { continue }
                entry.status = status
                try reseal(entry, seq: seq, peerHash: peerHash, messageHash: messageHash, in: connection)
            }
        }
    }

    public func clearRequestFlag(for peer: Username) throws(StoreError) {
        let peerHash = cipher.peerLookup(peer)
        // The flag is sealed, so every entry of the conversation is opened. Rejected: a clear
        // `is_request` column, which would tell the file's reader who wrote first.
        try database.transaction { connection throws(StoreError) in
            let rows = try connection.query(
                "SELECT seq, message_hash, sealed FROM history WHERE peer_hash = ?", [.blob(peerHash)]
            ) { row throws(StoreError) in (try row.integer(0), try row.blob(1), try row.blob(2)) }
            for (seq, messageHash, sealed) in rows {
                var entry = try open(sealed, peer: peer, peerHash: peerHash, messageHash: messageHash)
                guard entry.isRequest else { continue }
                entry.isRequest = false
                try reseal(entry, seq: seq, peerHash: peerHash, messageHash: messageHash, in: connection)
            }
        }
    }

    /// Deletes the conversation and returns its sealed images, oldest first. Every entry is opened
    /// first; if one is unreadable nothing is deleted (`.corrupt`), because an image reference that
    /// cannot be read would leave its blob behind, unreferenced.
    public func removeConversation(with peer: Username) throws(StoreError) -> [SealedImageReference] {
        let peerHash = cipher.peerLookup(peer)
        return try database.transaction { connection throws(StoreError) -> [SealedImageReference] in
            let rows = try connection.query(
                "SELECT message_hash, sealed FROM history WHERE peer_hash = ? ORDER BY seq", [.blob(peerHash)]
            ) { row throws(StoreError) in (try row.blob(0), try row.blob(1)) }
            var images: [SealedImageReference] = []
            for (messageHash, sealed) in rows {
                if case .image(let reference, _, _) = try open(sealed, peer: peer, peerHash: peerHash, messageHash: messageHash).body {
                    images.append(reference)
                }
            }
            try connection.execute("DELETE FROM history WHERE peer_hash = ?", [.blob(peerHash)])
            return images
        }
    }

    // MARK: Migration

    /// The data migration to schema 3: every schema-2 image entry (the path of a plain PNG file)
    /// has its file sealed by `importer` and is rewritten with the sealed reference, in the
    /// caller's transaction. What was sealed is appended to `sealed`, so the caller can discard
    /// the blobs if the transaction fails and remove the plain files once it committed.
    /// - Throws: `.corrupt` for an entry that does not open; `.unavailable` when there are legacy
    ///   images and no `importer`; the importer's errors.
    static func migrateLegacyImages(
        on connection: SQLiteConnection, cipher: ClientRecordCipher, importer: LegacyImageImport?, sealed: inout [LegacyImageImport.Sealed]
    ) throws(StoreError) {
        let rows = try connection.query("SELECT seq, peer_hash, message_hash, sealed FROM history ORDER BY seq") { row throws(StoreError) in
            (try row.integer(0), try row.blob(1), try row.blob(2), try row.blob(3))
        }
        for (seq, peerHash, messageHash, blob) in rows {
            let stored = try cipher.openRecord(blob, table: .history, lookups: [peerHash, messageHash], ClientRecordCoding.decodeStoredHistoryEntry)
            guard case .legacyImage(let path, let width, let height) = stored.body else { continue }
            guard let importer else {
                throw .unavailable("the history holds images of the previous version; it must be opened with the image store to seal them")
            }
            let result = try importer.seal(legacyPath: path, messageID: stored.id)
            sealed.append(result)
            var plaintext = ClientRecordCoding.encode(stored.entry(with: .image(result.reference, width: width, height: height)))
            let resealed = try cipher.seal(&plaintext, table: .history, lookups: [peerHash, messageHash])
            try connection.execute("UPDATE history SET sealed = ? WHERE seq = ?", [.blob(resealed), .integer(seq)])
        }
    }

    // MARK: Plumbing

    /// Opens an entry and checks that it is the one its row's hashes name (the associated data
    /// already binds them; this also catches a bug in how they were computed).
    private func open(_ sealed: [UInt8], peer: Username?, peerHash: [UInt8], messageHash: [UInt8]) throws(StoreError) -> HistoryEntry {
        let entry = try cipher.openRecord(sealed, table: .history, lookups: [peerHash, messageHash], ClientRecordCoding.decodeHistoryEntry)
        guard cipher.lookup(.message, entry.id.bytes) == messageHash, peer.map({ $0 == entry.peer }) ?? (cipher.peerLookup(entry.peer) == peerHash) else {
            throw .corrupt("a history entry is filed under another conversation or message id")
        }
        return entry
    }

    private func reseal(_ entry: HistoryEntry, seq: Int64, peerHash: [UInt8], messageHash: [UInt8], in connection: SQLiteConnection) throws(StoreError) {
        var plaintext = ClientRecordCoding.encode(entry)
        let sealed = try cipher.seal(&plaintext, table: .history, lookups: [peerHash, messageHash])
        try connection.execute("UPDATE history SET sealed = ? WHERE seq = ?", [.blob(sealed), .integer(seq)])
    }

    /// Refuses what could be written but not read back under the decoder's bounds.
    private static func checkLimits(_ entry: HistoryEntry) throws(StoreError) {
        switch entry.body {
        case .text(let text) where text.utf8.count > SQLiteClientStore.Limits.maxTextBytes:
            throw .limitReached("a text of \(text.utf8.count) bytes exceeds \(SQLiteClientStore.Limits.maxTextBytes)")
        default:
            break
        }
    }
}
