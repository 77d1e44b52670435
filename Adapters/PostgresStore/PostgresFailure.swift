import NIOCore
import PostgresNIO
import Primitives

/// Translates postgres-nio's and NIO's errors into ``StoreError``, so that no adapter type leaks
/// into the core: what cannot reach or write the database is "storage unavailable", never an
/// answer about the data.
enum PostgresFailure {
    /// SQLSTATE classes and codes the adapter tells apart.
    private static let uniqueViolation = "23505"
    private static let diskFull = "53100"
    private static let retryable: Set<String> = ["40001", "40P01"]

    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    static func isRetryable(_ error: any Error) -> Bool {
        sqlState(error).map(retryable.contains) ?? false
    }

    /// Whether `error` is below SQL: the connection could not be made, was closed or reset.
    static func isConnectionFailure(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return true }
        if error.code == .server {
            // 08: connection exception; 57P: the server is shutting down or crashed.
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        }
        return error.code != .queryCancelled
    }

    static func storeError(_ error: any Error, doing what: String) -> StoreError {
        if let state = sqlState(error) {
            let message = (error as? PSQLError)?.serverInfo?[.message] ?? "SQLSTATE \(state)"
            switch state {
            case uniqueViolation: return .alreadyExists(message)
            case diskFull: return .diskFull("PostgreSQL: \(message)")
            default:
                if state.hasPrefix("08") || state.hasPrefix("57P") { return .unavailable("storage unavailable: \(message)") }
                return .unavailable("storage error while \(what): \(message) (SQLSTATE \(state))")
            }
        }
        if let error = error as? PSQLError {
            return .unavailable("storage unavailable while \(what): \(error.code)")
        }
        return .unavailable("storage unavailable while \(what): \(error)")
    }
}
