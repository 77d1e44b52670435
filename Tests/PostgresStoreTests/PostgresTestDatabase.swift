import PostgresStore
import PostgresTestCluster
import Primitives
import ServerCore

/// A fresh database in the process's cluster, and every store opened on it, closed together.
final class PostgresTestDatabase: Sendable {
    let url: PostgresDatabaseURL
    private let opened = LockedValue<[PostgresServerStore]>([])
    private let buses = LockedValue<[PostgresEventBus]>([])

    init() throws {
        url = try PostgresCluster.shared().makeDatabase()
    }

    /// Opens a store (as node `nodeID`) on the database; closed by ``close()``.
    func store(nodeID: String = "node-a", mailboxLimits: MailboxLimits = .standard) throws(StoreError) -> PostgresServerStore {
        let store = try PostgresServerStore(url: url, nodeID: nodeID, mailboxLimits: mailboxLimits, maxConnections: 4)
        opened.withLock { $0.append(store) }
        return store
    }

    /// Starts an event bus over `store`; closed by ``close()``.
    func bus(_ store: PostgresServerStore) -> PostgresEventBus {
        let bus = PostgresEventBus(store: store, reconnectDelay: .milliseconds(100))
        buses.withLock { $0.append(bus) }
        return bus
    }

    func close() {
        for bus in buses.withLock({ $0 }) { bus.close() }
        for store in opened.withLock({ $0 }) { store.close() }
    }
}

/// Runs `body` with a fresh database, closing what it opened whether it passes or fails.
func withTestDatabase<T>(_ body: (PostgresTestDatabase) async throws -> T) async throws -> T {
    let database = try PostgresTestDatabase()
    defer { database.close() }
    return try await body(database)
}
