import ArgumentParser
import ClientCore
import TerminalIO
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
    ///
    /// Nothing the server wrote reaches the terminal as it is: a refusal is told in local words
    /// chosen by its code, followed by the server's own text made safe (``displaySafeLine(_:)``),
    /// shortened and quoted as the server's. Every other description can embed text from the
    /// server or a library (a connection's reason, SQLite's or libpng's message), so it is made
    /// safe too.
    init(_ error: ClientError) {
        switch error {
        case .refused(let wire):
            let message = Self.refusal(wire)
            switch wire.code {
            case .invalidCredentials, .throttled, .notAuthenticated: self = .authentication(message)
            case .unavailable, .busy: self = .unreachable(message)
            default: self = .refused(message)
            }
        case .connection(let connection): self = .unreachable(displaySafeLine(connection.description))
        case .storage: self = .local(displaySafeLine(error.description))
        case .notLoggedIn: self = .authentication(error.description)
        default: self = .refused(displaySafeLine(error.description))
        }
    }

    /// The most of the server's own text shown with a refusal.
    static let maxServerTextCharacters = 200

    /// A refusal in local words, then what the server said, neutralised and quoted.
    static func refusal(_ error: WireError) -> String {
        let local = localText(error.code)
        var serverText = displaySafeLine(error.message)
        if serverText.count > maxServerTextCharacters { serverText = String(serverText.prefix(maxServerTextCharacters)) + "…" }
        return serverText.isEmpty ? local : "\(local) (the server said: \"\(serverText)\")"
    }

    /// What a refusal code means, in the client's own words.
    static func localText(_ code: WireError.Code) -> String {
        switch code {
        case .malformedRequest: "the server could not read the request"
        case .unsupportedVersion: "the server does not speak this client's protocol version"
        case .usernameTaken: "that username is taken"
        case .invalidUsername: "the server refused the username"
        case .weakPassword: "the server refused the password as too weak"
        case .invalidCredentials: "wrong username or password"
        case .throttled: "too many attempts; wait and try again later"
        case .notAuthenticated: "not logged in"
        case .alreadyAuthenticated: "already logged in"
        case .unknownUser: "no such user on the server"
        case .noPrekeys: "the recipient has no keys on the server to start a conversation with"
        case .invalidPrekeys: "the server refused the keys"
        case .identityChanged: "the recipient's identity key has changed"
        case .mailboxFull: "the recipient's mailbox is full"
        case .refused: "the recipient does not accept messages from you"
        case .tooLarge: "too large for the server"
        case .internalError: "the server failed internally"
        case .unavailable: "the server is unavailable; try again later"
        case .busy: "the server is busy; try again in a few seconds"
        case .identityKeyTaken: "another account already uses this identity key"
        case .invalidIdentityBinding: "the server refused the identity signature"
        @unknown default: "the server refused the request (\(code))"
        }
    }
}
