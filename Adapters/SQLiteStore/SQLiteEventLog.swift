import ClientCore
import Primitives

/// ``EventLog`` over the client's encrypted SQLite file; vended by ``SQLiteClientStore``, and
/// written inside the delivery's transaction (``ClientTransaction/eventLog``). Passes
/// `EventLogContract`.
///
/// One row per event: `seq` (the cursor, AUTOINCREMENT so it is never reused after trimming)
/// and the sealed event, whose associated data binds the cursor, so rows cannot be swapped or
/// replayed under another cursor. The newest `limits.maxEvents` are kept; older rows are
/// deleted by the append that passes the bound.
public struct SQLiteEventLog: EventLog {
    private let database: SQLiteScope
    private let cipher: ClientRecordCipher
    private let limits: EventLogLimits

    init(database: SQLiteScope, cipher: ClientRecordCipher, limits: EventLogLimits) {
        self.database = database
        self.cipher = cipher
        self.limits = limits
    }

    public func append(_ event: DurableEvent, at: Timestamp) throws(StoreError) -> UInt64 {
        try database.transaction { connection throws(StoreError) -> UInt64 in
            let last = try connection.queryFirst("SELECT seq FROM sqlite_sequence WHERE name = 'event_log'") { row throws(StoreError) in
                try row.integer(0)
            } ?? 0
            let cursor = UInt64(last + 1)
            var plaintext = ClientRecordCoding.encode(LoggedEvent(cursor: cursor, at: at, event: event))
            let sealed = try cipher.seal(&plaintext, table: .eventLog, lookups: [Self.binding(cursor)])
            try connection.execute("INSERT INTO event_log (seq, sealed) VALUES (?, ?)", [.integer(Int64(cursor)), .blob(sealed)])
            try connection.execute("DELETE FROM event_log WHERE seq <= ?", [.integer(Int64(cursor) - Int64(limits.maxEvents))])
            return cursor
        }
    }

    public func events(after cursor: UInt64, limit: Int) throws(StoreError) -> [LoggedEvent] {
        let rows = try database.withConnection { connection throws(StoreError) in
            try connection.query(
                "SELECT seq, sealed FROM event_log WHERE seq > ? ORDER BY seq LIMIT ?",
                [.integer(Int64(clamping: cursor)), .integer(Int64(max(0, limit)))]
            ) { row throws(StoreError) in (try row.integer(0), try row.blob(1)) }
        }
        return try rows.map { (seq, sealed) throws(StoreError) in
            let logged = try cipher.openRecord(
                sealed, table: .eventLog, lookups: [Self.binding(UInt64(seq))], ClientRecordCoding.decodeLoggedEvent)
            guard logged.cursor == UInt64(seq) else { throw .corrupt("an event is filed under another cursor") }
            return logged
        }
    }

    public func latestCursor() throws(StoreError) -> UInt64 {
        try database.withConnection { connection throws(StoreError) in
            UInt64(try connection.queryFirst("SELECT seq FROM sqlite_sequence WHERE name = 'event_log'") { row throws(StoreError) in
                try row.integer(0)
            } ?? 0)
        }
    }

    public func oldestCursor() throws(StoreError) -> UInt64? {
        try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT min(seq) FROM event_log") { row throws(StoreError) in
                row.isNull(0) ? nil : UInt64(try row.integer(0))
            } ?? nil
        }
    }

    private static func binding(_ cursor: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 16)
        writer.writeString("event")
        writer.write(cursor)
        return writer.bytes
    }
}
