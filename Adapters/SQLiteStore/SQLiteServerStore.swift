import Primitives
import ServerCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The server's durable storage: one SQLite file, opened once, that vends the four store ports and
/// the account deletion that spans them.
///
/// The stores share one connection (see `SQLiteDatabase`), so one process never contends with
/// itself for SQLite's write lock, and a use case that touches several stores sees one consistent
/// file.
public final class SQLiteServerStore: Sendable {
    /// The file name used inside a data directory.
    public static let fileName = "parley-server.sqlite"

    public let accounts: SQLiteAccountStore
    public let prekeys: SQLitePrekeyStore
    public let mailbox: SQLiteMailboxStore
    public let blocks: SQLiteBlockStore
    /// Deletes an account across all four stores in one transaction.
    public let accountDeletion: SQLiteAccountDeletionStore
    private let database: SQLiteDatabase

    /// Opens, creating if absent (mode 0600), the database file at `path` and brings its schema up
    /// to date.
    /// - Throws: ``StoreError/corrupt(_:)`` when the file is not a SQLite database, fails its
    ///   integrity check, or belongs to another application; ``StoreError/unavailable(_:)`` when it
    ///   cannot be opened or written, or was written by a newer Parley.
    public init(path: String, mailboxLimits: MailboxLimits = .standard) throws(StoreError) {
        database = try SQLiteDatabase(path: path, applicationID: Self.applicationID, migrations: Self.migrations)
        accounts = SQLiteAccountStore(database: database)
        prekeys = SQLitePrekeyStore(database: database)
        mailbox = SQLiteMailboxStore(database: database, limits: mailboxLimits)
        blocks = SQLiteBlockStore(database: database)
        accountDeletion = SQLiteAccountDeletionStore(database: database)
    }

    /// Opens ``fileName`` inside `dataDirectory`, creating the directory with mode 0700 if it does
    /// not exist (an existing directory's permissions are left as the operator set them).
    public convenience init(dataDirectory: String, mailboxLimits: MailboxLimits = .standard) throws(StoreError) {
        if mkdir(dataDirectory, 0o700) != 0 && errno != EEXIST {
            throw .unavailable("cannot create the data directory \(dataDirectory): \(String(cString: strerror(errno)))")
        }
        try self.init(path: dataDirectory + "/" + Self.fileName, mailboxLimits: mailboxLimits)
    }

    /// The schema version recorded in the file.
    public func schemaVersion() throws(StoreError) -> Int {
        try database.schemaVersion()
    }

    /// Closes the file. Every store vended by this object then throws
    /// ``StoreError/unavailable(_:)``. Also happens when the last reference goes away.
    public func close() {
        database.close()
    }
}
