import ArgumentParser
import ClientCore
import WireProtocol

/// A failure of the command-line client, with its documented exit code.
///
/// Exit codes: 0 success; 64 usage error; 65 the server refused the request (or the input was
/// refused, e.g. an invalid image); 69 the server is unreachable (or its key changed); 70 a local
/// error (storage, files); 77 authentication failed (wrong username or password, throttled, wrong
/// local password).
enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    case refused(String)
    case unreachable(String)
    case local(String)
    case authentication(String)

    var exitCode: Int32 {
        switch self {
        case .usage: 64
        case .refused: 65
        case .unreachable: 69
        case .local: 70
        case .authentication: 77
        }
    }

    var description: String {
        switch self {
        case .usage(let message), .refused(let message), .unreachable(let message), .local(let message), .authentication(let message): message
        }
    }

    /// Classifies a client error by what the user can do about it.
    init(_ error: ClientError) {
        switch error {
        case .refused(let wire):
            switch wire.code {
            case .invalidCredentials, .throttled, .notAuthenticated: self = .authentication(wire.message)
            case .unavailable, .busy: self = .unreachable(wire.message)
            default: self = .refused(wire.message)
            }
        case .connection(let connection): self = .unreachable(connection.description)
        case .storage: self = .local(error.description)
        case .notLoggedIn: self = .authentication(error.description)
        default: self = .refused(error.description)
        }
    }
}
