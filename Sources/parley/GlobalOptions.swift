import ArgumentParser
import Foundation
import Primitives

/// Options every `parley` command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("server"), help: "The server as HOST:PORT; the nodes of one cluster as HOST:PORT,HOST:PORT,… (tried in order).")
    var server = "127.0.0.1:50007"

    @Option(name: .customLong("home"), help: "Where accounts live (default: $PARLEY_HOME, $XDG_DATA_HOME/parley or ~/.local/share/parley).")
    var home: String?

    @Option(name: .customLong("user"), help: "The account to use (default: the only or last used account).")
    var user: String?

    @Flag(name: .customLong("password-stdin"), help: "Read the password as one line of standard input.")
    var passwordStdin = false

    @Flag(name: .customLong("json"), help: "Print one JSON object per line.")
    var json = false

    @Option(name: .customLong("server-key"), help: "Pin this server key (64 hex characters), replacing any earlier pin.")
    var serverKey: String?

    @Flag(name: .customLong("no-daemon"), help: "Do not use a running 'parley daemon'; log in directly.")
    var noDaemon = false

    @Option(name: .customLong("socket"), help: "The daemon's socket (default: $XDG_RUNTIME_DIR/parley/USER.sock).")
    var socket: String?

    func validate() throws {
        let parts = server.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !parts.isEmpty, parts.allSatisfy({ ServerAddress(parsing: $0) != nil }) else {
            throw ValidationError("--server must be HOST:PORT, or several separated by commas")
        }
        if let serverKey, Hex.decode(serverKey).map({ $0.count == 32 }) != true {
            throw ValidationError("--server-key must be 64 hexadecimal characters")
        }
        if let user {
            do { _ = try Username(user) } catch { throw ValidationError("--user: \(error)") }
        }
    }

    /// The addresses of the server, in the order they are tried (the nodes of one cluster).
    var serverAddresses: [ServerAddress] {
        let parsed = server.split(separator: ",").compactMap { ServerAddress(parsing: $0.trimmingCharacters(in: .whitespaces)) }
        var seen = Set<ServerAddress>()
        let unique = parsed.filter { seen.insert($0).inserted }
        return unique.isEmpty ? [.standard] : unique
    }

    /// The server as shown to the person: its addresses, comma-separated.
    var serverName: String { serverAddresses.map(\.description).joined(separator: ",") }
    var resolvedHome: Home { Home.resolve(explicit: home) }
    var pinnedKeyOverride: X25519PublicKey? { serverKey.flatMap(Hex.decode).flatMap { try? X25519PublicKey(bytes: $0) } }
}
