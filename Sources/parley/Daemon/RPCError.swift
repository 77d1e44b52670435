import ClientCore
import Foundation

/// A JSON-RPC 2.0 error as the daemon answers it: the protocol's codes for protocol errors, and
/// application codes in -32000...-32099 that mirror the command line's exit codes, each with a
/// stable `data.reason` (docs/parley.openrpc.json lists them).
struct RPCError: Error, Sendable, Equatable {
    let code: Int
    let message: String
    let reason: String

    init(code: Int, message: String, reason: String) {
        self.code = code
        self.message = message
        self.reason = reason
    }

    var json: JSONValue {
        ["code": .integer(Int64(code)), "message": .string(message), "data": ["reason": .string(reason)]]
    }

    // MARK: Protocol errors

    static func parseError(_ message: String) -> RPCError { RPCError(code: -32700, message: message, reason: "parse-error") }
    static func invalidRequest(_ message: String, reason: String = "invalid-request") -> RPCError {
        RPCError(code: -32600, message: message, reason: reason)
    }
    static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: -32601, message: "no method \(method)", reason: "method-not-found")
    }
    static func invalidParams(_ message: String) -> RPCError { RPCError(code: -32602, message: message, reason: "invalid-params") }
    static func internalError(_ message: String) -> RPCError { RPCError(code: -32603, message: message, reason: "internal-error") }

    // MARK: Application errors (the exit code each mirrors)

    /// 65: the server (or the input check) refused.
    static func refused(_ message: String) -> RPCError { RPCError(code: -32001, message: message, reason: "refused") }
    /// 69: the server cannot be reached (the daemon is reconnecting), or its key changed.
    static func unreachable(_ message: String) -> RPCError { RPCError(code: -32002, message: message, reason: "unreachable") }
    /// 77: authentication failed (also: a TCP client without the token).
    static func authentication(_ message: String) -> RPCError { RPCError(code: -32003, message: message, reason: "authentication") }
    /// 65: the contact's identity key changed and is not confirmed yet (verify or trust).
    static func identityUnconfirmed(_ message: String) -> RPCError {
        RPCError(code: -32004, message: message, reason: "identity-unconfirmed")
    }
    /// 65: no such contact or image.
    static func notFound(_ message: String) -> RPCError { RPCError(code: -32005, message: message, reason: "not-found") }
    /// 70: local storage or files failed.
    static func local(_ message: String) -> RPCError { RPCError(code: -32006, message: message, reason: "local") }
    /// 64: valid JSON-RPC, but not a valid request of its method (the command line's usage error).
    static func usage(_ message: String) -> RPCError { RPCError(code: -32007, message: message, reason: "usage") }

    /// The application error for a failed command.
    init(_ error: ClientError) {
        switch error {
        case .identityUnconfirmed: self = .identityUnconfirmed(error.description)
        case .unknownContact: self = .notFound(error.description)
        default: self.init(CLIError(error))
        }
    }

    init(_ error: CLIError) {
        switch error {
        case .usage(let message): self = .usage(message)
        case .refused(let message): self = .refused(message)
        case .unreachable(let message): self = .unreachable(message)
        case .local(let message): self = .local(message)
        case .authentication(let message): self = .authentication(message)
        }
    }

    /// The command line's error for an answer from the daemon (the exit code it mirrors).
    static func cliError(reason: String, message: String) -> CLIError {
        switch reason {
        case "unreachable": .unreachable(message)
        case "authentication": .authentication(message)
        case "local", "internal-error": .local(message)
        case "usage", "invalid-params": .usage(message)
        default: .refused(message)
        }
    }
}
