import Foundation
import Primitives

/// Where a client keeps its files: `--home`, else `$PARLEY_HOME`, else `$XDG_DATA_HOME/parley`,
/// else `~/.local/share/parley`. Inside: `known_servers`, and one folder per server and account
/// (`<host>_<port>/<username>/`), folders 0700 and files 0600.
struct Home {
    let root: String

    static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> Home {
        if let explicit, !explicit.isEmpty { return Home(root: explicit) }
        if let home = environment["PARLEY_HOME"], !home.isEmpty { return Home(root: home) }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return Home(root: xdg + "/parley") }
        let user = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return Home(root: user + "/.local/share/parley")
    }

    func serverFolder(_ server: ServerAddress) -> String {
        root + "/" + server.folderName
    }

    func accountFolder(_ server: ServerAddress, _ user: Username) -> String {
        serverFolder(server) + "/" + user.value
    }

    var knownServersPath: String { root + "/known_servers" }

    /// Creates `path` and its parents with mode 0700.
    static func makeFolder(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(path, 0o700)
    }

    /// The accounts that exist under this server, and the last one used.
    func accounts(on server: ServerAddress) -> (all: [Username], last: Username?) {
        let folder = serverFolder(server)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { FileManager.default.fileExists(atPath: folder + "/" + $0 + "/parley-client.sqlite") }
            .compactMap { try? Username($0) }
            .sorted()
        let last = (try? String(contentsOfFile: folder + "/last_user", encoding: .utf8))
            .flatMap { try? Username($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            .flatMap { names.contains($0) ? $0 : nil }
        return (names, last)
    }

    func rememberLastUser(_ user: Username, on server: ServerAddress) {
        let path = serverFolder(server) + "/last_user"
        _ = FileManager.default.createFile(atPath: path, contents: Data(user.value.utf8), attributes: [.posixPermissions: 0o600])
    }
}

/// `HOST:PORT` of a server.
struct ServerAddress: Hashable, CustomStringConvertible {
    let host: String
    let port: Int

    static let standard = ServerAddress(host: "127.0.0.1", port: 50007)

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (or `[IPv6]:PORT`, or a bare host with the default port).
    init?(parsing text: String) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
            guard let port = rest.isEmpty ? 50007 : Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            self.port = port
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
            self.port = port
        } else {
            host = text
            port = 50007
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:".contains($0) }) else { return nil }
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Safe as a folder name.
    var folderName: String { host.replacingOccurrences(of: ":", with: "_") + "_\(port)" }
}
