import ClientCore
import Envelope
import Primitives

/// ``SentMessageLog`` over the client's encrypted SQLite file; vended by ``SQLiteClientStore``.
/// Passes `SentMessageLogContract`.
///
/// One row per logged message: keyed hashes of its message id and of (peer, envelope id) for the
/// two lookups, the logging order, and everything else sealed. Expiry and the bounds are applied
/// when an entry is recorded, in the same transaction, oldest row first.
public struct SQLiteSentMessageLog: SentMessageLog {
    private let database: SQLiteScope
    private let cipher: ClientRecordCipher
    private let limits: SentLogLimits

    init(database: SQLiteScope, cipher: ClientRecordCipher, limits: SentLogLimits) {
        self.database = database
        self.cipher = cipher
        self.limits = limits
    }

    public func record(_ message: SentMessage, now: Timestamp) throws(StoreError) {
        let messageHash = cipher.lookup(.message, Self.messageKey(message.content.id))
        let envelopeHash = envelopeLookup(peer: message.peer, envelopeID: message.envelopeID)
        var plaintext = ClientRecordCoding.encode(message)
        let sealed = try cipher.seal(&plaintext, table: .sentLog, lookups: [messageHash, envelopeHash])
        let oldest = now.adding(.zero - limits.maxAge)
        try database.transaction { connection throws(StoreError) in
            try connection.execute("DELETE FROM sent_log WHERE message_hash = ?", [.blob(messageHash)])
            try connection.execute(
                "INSERT INTO sent_log (message_hash, envelope_hash, resend_pending, sealed) VALUES (?, ?, ?, ?)",
                [.blob(messageHash), .blob(envelopeHash), .integer(message.resendPending ? 1 : 0), .blob(sealed)])
            try expire(before: oldest, on: connection)
            try connection.execute(
                "DELETE FROM sent_log WHERE seq IN (SELECT seq FROM sent_log ORDER BY seq DESC LIMIT -1 OFFSET ?)",
                [.integer(Int64(limits.maxEntries))])
            try trimBytes(on: connection)
        }
    }

    public func message(to peer: Username, envelopeID: UInt64) throws(StoreError) -> SentMessage? {
        let envelopeHash = envelopeLookup(peer: peer, envelopeID: envelopeID)
        let row = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT message_hash, sealed FROM sent_log WHERE envelope_hash = ? ORDER BY seq DESC LIMIT 1", [.blob(envelopeHash)]
            ) { row throws(StoreError) in (try row.blob(0), try row.blob(1)) }
        }
        guard let (messageHash, sealed) = row else { return nil }
        let message = try open(sealed, messageHash: messageHash, envelopeHash: envelopeHash)
        guard message.peer == peer, message.envelopeID == envelopeID else {
            throw .corrupt("a sent-message log entry is filed under another envelope")
        }
        return message
    }

    public func remove(messageIDs: [MessageID]) throws(StoreError) {
        let hashes = Set(messageIDs).map { cipher.lookup(.message, Self.messageKey($0)) }
        guard !hashes.isEmpty else { return }
        try database.transaction { connection throws(StoreError) in
            for hash in hashes { try connection.execute("DELETE FROM sent_log WHERE message_hash = ?", [.blob(hash)]) }
        }
    }

    public func pendingResends() throws(StoreError) -> [SentMessage] {
        let rows = try database.withConnection { connection throws(StoreError) in
            try connection.query("SELECT message_hash, envelope_hash, sealed FROM sent_log WHERE resend_pending = 1 ORDER BY seq") { row throws(StoreError) in
                (try row.blob(0), try row.blob(1), try row.blob(2))
            }
        }
        return try rows.map { (messageHash, envelopeHash, sealed) throws(StoreError) in
            let message = try open(sealed, messageHash: messageHash, envelopeHash: envelopeHash)
            guard message.resendPending else { throw .corrupt("a sent-message log entry's resend flag disagrees with its row") }
            return message
        }
    }

    public func count() throws(StoreError) -> Int {
        try database.withConnection { connection throws(StoreError) in
            Int(try connection.queryFirst("SELECT count(*) FROM sent_log") { row throws(StoreError) in try row.integer(0) } ?? 0)
        }
    }

    // MARK: Plumbing

    /// Deletes rows logged before `oldest`: rows are in logging order, so this walks from the
    /// oldest and stops at the first that is still fresh (usually after opening one).
    private func expire(before oldest: Timestamp, on connection: SQLiteConnection) throws(StoreError) {
        while let (seq, messageHash, envelopeHash, sealed) = try connection.queryFirst(
            "SELECT seq, message_hash, envelope_hash, sealed FROM sent_log ORDER BY seq LIMIT 1"
        ) { row throws(StoreError) in (try row.integer(0), try row.blob(1), try row.blob(2), try row.blob(3)) } {
            let expired: Bool
            do { expired = try open(sealed, messageHash: messageHash, envelopeHash: envelopeHash).loggedAt < oldest } catch {
                // An entry that cannot be read is of no use for a resend: drop it.
                expired = true
            }
            guard expired else { return }
            try connection.execute("DELETE FROM sent_log WHERE seq = ?", [.integer(seq)])
        }
    }

    /// Deletes the oldest rows while the sealed bytes exceed the bound (keeping the newest row).
    private func trimBytes(on connection: SQLiteConnection) throws(StoreError) {
        var total = try connection.queryFirst("SELECT coalesce(sum(length(sealed)), 0) FROM sent_log") { row throws(StoreError) in try row.integer(0) } ?? 0
        while total > Int64(limits.maxBytes), let (seq, size) = try connection.queryFirst(
            "SELECT seq, length(sealed) FROM sent_log WHERE seq < (SELECT max(seq) FROM sent_log) ORDER BY seq LIMIT 1"
        ) { row throws(StoreError) in (try row.integer(0), try row.integer(1)) } {
            try connection.execute("DELETE FROM sent_log WHERE seq = ?", [.integer(seq)])
            total -= size
        }
    }

    private func open(_ sealed: [UInt8], messageHash: [UInt8], envelopeHash: [UInt8]) throws(StoreError) -> SentMessage {
        let message = try cipher.openRecord(sealed, table: .sentLog, lookups: [messageHash, envelopeHash], ClientRecordCoding.decodeSentMessage)
        guard cipher.lookup(.message, Self.messageKey(message.content.id)) == messageHash else {
            throw .corrupt("a sent-message log entry is filed under another message id")
        }
        return message
    }

    /// Lookup inputs, domain-separated from history's message-id hashes (same subkey).
    private static func messageKey(_ id: MessageID) -> [UInt8] { Array("sent-log message".utf8) + id.bytes }

    private func envelopeLookup(peer: Username, envelopeID: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.writeString("sent-log envelope")
        writer.writeString(peer.value)
        writer.write(envelopeID)
        return cipher.lookup(.message, writer.bytes)
    }
}
