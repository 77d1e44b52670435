import Primitives

/// Where a client store's statements run: on the shared database (each call takes its lock, and a
/// call that needs several statements opens its own transaction), or on the connection of a
/// transaction that ``SQLiteClientStore/perform(_:)`` already holds (the calls then join it).
///
/// One store type serves both, so the unit of work cannot drift from the stores it combines.
/// `@unchecked Sendable` because a transaction's connection is not: a transaction-scoped store is
/// handed only to the `perform` body, runs on its thread, and must not outlive it (the port says so).
struct SQLiteScope: @unchecked Sendable {
    private enum Target {
        case database(SQLiteDatabase)
        case transaction(SQLiteConnection)
    }

    private let target: Target

    private init(_ target: Target) { self.target = target }

    /// Each call takes the database's lock.
    static func shared(_ database: SQLiteDatabase) -> SQLiteScope { SQLiteScope(.database(database)) }

    /// Calls run inside the open transaction on `connection`.
    static func inTransaction(_ connection: SQLiteConnection) -> SQLiteScope { SQLiteScope(.transaction(connection)) }

    /// Runs `body` with the connection: under the lock, or within the open transaction.
    @discardableResult
    func withConnection<T: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        switch target {
        case .database(let database): try database.withConnection(body)
        case .transaction(let connection): try body(connection)
        }
    }

    /// Runs `body` atomically: in a transaction of its own, or as part of the open one.
    @discardableResult
    func transaction<T: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        switch target {
        case .database(let database): try database.transaction(body)
        case .transaction(let connection): try body(connection)
        }
    }
}
