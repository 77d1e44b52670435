import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Primitives
import ServerCore

/// The server's storage on PostgreSQL: one database shared by any number of `parley-server`
/// nodes, vending the four store ports and the account deletion that spans them.
///
/// Every method of every store vended here blocks its thread until PostgreSQL has answered (the
/// ports are synchronous, as SQLite's are). That is legal only off NIO's event loops: the server
/// calls its stores from its own storage threads (`BlockingExecutor`), never from an event loop
/// or, in production, Swift's cooperative pool; a call on an event loop traps (see
/// `PostgresConnectionPool`). A connection failure is reported as ``StoreError/unavailable(_:)``
/// ("storage unavailable"), so a send is refused, never answered "accepted".
///
/// Opening runs the versioned migrations (under an advisory lock, so nodes starting together
/// migrate once) and refuses a database whose schema is newer than this build knows.
public final class PostgresServerStore: Sendable {
    public let accounts: PostgresAccountStore
    public let prekeys: PostgresPrekeyStore
    public let mailbox: PostgresMailboxStore
    public let blocks: PostgresBlockStore
    /// Deletes an account across all four stores in one transaction.
    public let accountDeletion: PostgresAccountDeletionStore
    /// This node's name in the database (`application_name`) and in the event bus's hints.
    public let nodeID: String
    let pool: PostgresConnectionPool

    /// Connects to `url`, brings the schema up to date and vends the stores.
    /// - Parameters:
    ///   - nodeID: names this node in logs, `pg_stat_activity` and event hints; unique per node.
    ///   - maxConnections: the most connections the stores hold open at once (the server runs a
    ///     handful of storage threads and one mailbox writer).
    /// - Throws: ``StoreError/unavailable(_:)`` when the database cannot be reached, or its schema
    ///   is newer than ``latestSchemaVersion``.
    public init(
        url: PostgresDatabaseURL, nodeID: String = "node", mailboxLimits: MailboxLimits = .standard, maxConnections: Int = 8,
        logger: Logger = Logger(label: "parley.postgres")
    ) throws(StoreError) {
        self.nodeID = nodeID
        pool = PostgresConnectionPool(url: url, applicationName: "parley-server \(nodeID)", maxConnections: maxConnections, logger: logger)
        do throws(StoreError) {
            try Self.migrate(pool)
            // This node's row of the mailbox byte total, so that its batches always have one to lock.
            try pool.withSession { session throws(StoreError) in
                try session.execute("INSERT INTO mailbox_totals (node, bytes, allowance) VALUES (\(nodeID), 0, 0) ON CONFLICT (node) DO NOTHING")
            }
        } catch {
            pool.close()
            throw error
        }
        accounts = PostgresAccountStore(pool: pool)
        prekeys = PostgresPrekeyStore(pool: pool)
        mailbox = PostgresMailboxStore(pool: pool, limits: mailboxLimits, nodeID: nodeID)
        blocks = PostgresBlockStore(pool: pool)
        accountDeletion = PostgresAccountDeletionStore(pool: pool, nodeID: nodeID)
    }

    /// The schema version recorded in the database.
    public func schemaVersion() throws(StoreError) -> Int {
        try pool.withSession { session throws(StoreError) in try Self.recordedVersion(session) }
    }

    /// Closes the connections. Every store vended by this object then throws
    /// ``StoreError/unavailable(_:)``.
    public func close() {
        pool.close()
    }

    private static func migrate(_ pool: PostgresConnectionPool) throws(StoreError) {
        try pool.transaction { session throws(StoreError) in
            try session.execute("SELECT pg_advisory_xact_lock(\(migrationLockKey))")
            try session.execute(
                """
                CREATE TABLE IF NOT EXISTS parley_schema (
                    version integer PRIMARY KEY, summary text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let current = try recordedVersion(session)
            guard current <= latestSchemaVersion else {
                throw .unavailable(
                    "the database's schema is version \(current), newer than this parley-server knows (\(latestSchemaVersion)): upgrade the server")
            }
            for migration in migrations where migration.version > current {
                for statement in migration.statements { try session.execute(PostgresQuery(unsafeSQL: statement)) }
                try session.execute("INSERT INTO parley_schema (version, summary) VALUES (\(migration.version), \(migration.summary))")
                pool.logger.notice("migrated the PostgreSQL schema", metadata: ["version": "\(migration.version)", "summary": "\(migration.summary)"])
            }
        }
    }

    private static func recordedVersion(_ session: PostgresSession) throws(StoreError) -> Int {
        let rows = try session.query("SELECT coalesce(max(version), 0)::bigint FROM parley_schema")
        guard let row = rows.first else { return 0 }
        return Int(try row.value(Int64.self))
    }
}

// MARK: - Encoding domain values

extension Array where Element == UInt8 {
    /// As a PostgreSQL `bytea` (a bare `[UInt8]` would bind as an array of "char").
    var bytea: ByteBuffer { ByteBuffer(bytes: self) }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}

/// Reading domain values back out of rows. A stored value that no longer satisfies its type's
/// rules can only come from a database altered outside Parley, so it is reported as corruption.
enum PostgresDecoding {
    static func username(_ raw: String) throws(StoreError) -> Username {
        do { return try Username(raw) } catch { throw .corrupt("stored username is invalid: \(error)") }
    }

    static func uint32(_ value: Int64) throws(StoreError) -> UInt32 {
        guard let exact = UInt32(exactly: value) else { throw .corrupt("stored id \(value) is not a 32-bit id") }
        return exact
    }

    static func envelopeID(_ value: Int64) throws(StoreError) -> UInt64 {
        guard let exact = UInt64(exactly: value), exact > 0 else { throw .corrupt("stored envelope id \(value) is not positive") }
        return exact
    }

    static func key<T>(_ buffer: ByteBuffer, _ make: ([UInt8]) throws(CryptoError) -> T) throws(StoreError) -> T {
        do { return try make(buffer.bytes) } catch { throw .corrupt("stored key material is invalid: \(error)") }
    }
}
