import Dispatch
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Primitives

/// A small pool of PostgreSQL connections used *synchronously*: every call blocks its thread until
/// PostgreSQL has answered.
///
/// The store ports are synchronous and `throws(StoreError)` (as SQLite's are), and the server
/// calls them from its own storage threads (`BlockingExecutor`, `EnvelopeBatcher`'s writer), never
/// from a NIO event loop or Swift's cooperative pool; so waiting on postgres-nio's futures here is
/// legal. Waiting *on an event loop* would deadlock that loop (the answer is delivered on one), so
/// every entry point checks ``assertNotOnEventLoop()`` first and traps with a clear message.
///
/// `PostgresClient`, postgres-nio's own pool, was rejected for this step: it is async only, and
/// bridging a synchronous port to it means blocking a thread on a task that itself needs
/// Swift's cooperative pool, which deadlocks when that pool's few threads are the ones blocked
/// (tests call the stores from async test functions). `PostgresConnection`'s EventLoopFuture API
/// needs no cooperative thread at all.
///
/// At most `maxConnections` connections are open; a caller beyond that waits for one to be
/// returned (up to `acquireTimeout`). A connection that failed at the transport level is closed
/// and dropped, and the next caller opens a fresh one, so a PostgreSQL restart costs the calls in
/// flight (answered ``StoreError/unavailable(_:)``), not the node.
final class PostgresConnectionPool: Sendable {
    private struct State {
        var idle: [PostgresConnection] = []
        var nextID = 0
        var closed = false
    }

    let url: PostgresDatabaseURL
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    private let configuration: PostgresConnection.Configuration
    private let state = LockedValue(State())
    private let permits: DispatchSemaphore
    private let acquireTimeout: DispatchTimeInterval

    init(url: PostgresDatabaseURL, applicationName: String, maxConnections: Int = 8, acquireTimeout: DispatchTimeInterval = .seconds(30),
         eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.url = url
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.configuration = Self.configuration(url, applicationName: applicationName)
        self.permits = DispatchSemaphore(value: max(1, maxConnections))
        self.acquireTimeout = acquireTimeout
    }

    static func configuration(_ url: PostgresDatabaseURL, applicationName: String) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        // Durability is not negotiable: an envelope answered "accepted" is on PostgreSQL's disk,
        // whatever the server's default says.
        configuration.options.additionalStartupParameters = [("synchronous_commit", "on"), ("application_name", applicationName)]
        return configuration
    }

    /// Traps when called on a NIO event loop: a blocking wait there would deadlock it.
    static func assertNotOnEventLoop(function: StaticString = #function) {
        precondition(
            MultiThreadedEventLoopGroup.currentEventLoop == nil,
            "PostgresStore.\(function) blocks until PostgreSQL answers: call it from a storage thread, never on a NIO event loop")
    }

    /// Opens one connection outside the pool (the event bus's listener), waiting for it.
    func connectDedicated(label: String) throws(StoreError) -> PostgresConnection {
        Self.assertNotOnEventLoop()
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        do {
            return try PostgresConnection.connect(on: eventLoopGroup.next(), configuration: configuration, id: id, logger: logger).wait()
        } catch {
            throw PostgresFailure.storeError(error, doing: "connecting (\(label)) to \(url)")
        }
    }

    /// Runs `body` with a connection of the pool, waiting for one if all are busy.
    @discardableResult
    func withSession<T>(_ body: (PostgresSession) throws(StoreError) -> T) throws(StoreError) -> T {
        Self.assertNotOnEventLoop()
        guard permits.wait(timeout: .now() + acquireTimeout) == .success else {
            throw .unavailable("storage unavailable: no PostgreSQL connection became free in time")
        }
        defer { permits.signal() }
        let pooled = state.withLock { state -> PostgresConnection?? in
            guard !state.closed else { return nil }
            while let connection = state.idle.popLast() {
                if !connection.isClosed { return .some(connection) }
            }
            return .some(nil)
        }
        guard let pooled else { throw .unavailable("storage unavailable: the PostgreSQL store is closed") }
        let connection: PostgresConnection
        if let pooled { connection = pooled } else { connection = try connectDedicated(label: "pool") }
        let session = PostgresSession(connection: connection, logger: logger)
        defer { giveBack(session) }
        return try body(session)
    }

    /// Runs `body` inside `BEGIN ... COMMIT` on one connection, rolled back when it throws.
    ///
    /// A transaction PostgreSQL aborted to break a deadlock or a serialization conflict is retried
    /// from the start, a few times: `body` must therefore only compute from its inputs and the
    /// database. When the connection fails around `COMMIT`, the outcome is unknown and reported as
    /// ``StoreError/unavailable(_:)``, never as success.
    @discardableResult
    func transaction<T>(_ body: (PostgresSession) throws(StoreError) -> T) throws(StoreError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            let outcome = try withSession { session throws(StoreError) -> T? in
                try session.execute("BEGIN")
                do throws(StoreError) {
                    let result = try body(session)
                    try session.execute("COMMIT")
                    return result
                } catch {
                    let retry = session.lastFailureIsRetryable && attempt < 5
                    session.rollbackIfPossible()
                    if retry { return nil }
                    throw error
                }
            }
            if let outcome { return outcome }
            logger.debug("retrying a transaction PostgreSQL aborted", metadata: ["attempt": "\(attempt)"])
        }
    }

    private func giveBack(_ session: PostgresSession) {
        let connection = session.connection
        let keep = !session.isBroken && !connection.isClosed && state.withLock { state in
            guard !state.closed else { return false }
            state.idle.append(connection)
            return true
        }
        if !keep { _ = try? connection.close().wait() }
    }

    deinit {
        // postgres-nio requires every connection to be closed before it is released.
        close()
    }

    /// Closes every connection; later calls throw ``StoreError/unavailable(_:)``.
    func close() {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle { _ = try? connection.close().wait() }
    }
}

/// One connection lent to one thread for one call: queries that wait for their answer, with
/// postgres-nio's errors translated into ``StoreError``.
final class PostgresSession {
    let connection: PostgresConnection
    private let logger: Logger
    /// Set when the connection failed below SQL (closed, reset): it is not returned to the pool.
    private(set) var isBroken = false
    /// Whether the last failure was a deadlock or serialization failure, which a retry may clear.
    private(set) var lastFailureIsRetryable = false

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Runs `query` and returns its rows.
    @discardableResult
    func query(_ query: PostgresQuery) throws(StoreError) -> PostgresQueryResult {
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
            lastFailureIsRetryable = PostgresFailure.isRetryable(error)
            if PostgresFailure.isConnectionFailure(error) || connection.isClosed { isBroken = true }
            throw PostgresFailure.storeError(error, doing: "running a query")
        }
    }

    /// Runs `query` and returns how many rows it changed.
    @discardableResult
    func execute(_ query: PostgresQuery) throws(StoreError) -> Int {
        try self.query(query).metadata.rows ?? 0
    }

    func rollbackIfPossible() {
        guard !isBroken else { return }
        do { try execute("ROLLBACK") } catch { isBroken = true }
    }
}

extension PostgresRow {
    /// Decodes the row's only (or first) column, turning a type mismatch into corruption.
    func value<Column: PostgresDecodable>(_ column: Column.Type) throws(StoreError) -> Column {
        do { return try decode(Column.self) } catch { throw .corrupt("a stored value does not have the expected type: \(String(reflecting: error))") }
    }

    /// Decodes the row's columns, turning a type mismatch into corruption.
    func values<each Column: PostgresDecodable>(_ columns: (repeat each Column).Type) throws(StoreError) -> (repeat each Column) {
        do { return try decode(columns) } catch { throw .corrupt("a stored row does not have the expected types: \(String(reflecting: error))") }
    }
}
