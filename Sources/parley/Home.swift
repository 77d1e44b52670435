import Foundation
import ClientCore
import Primitives

/// Where a client keeps its files: `--home`, else `$PARLEY_HOME`, else `$XDG_DATA_HOME/parley`,
/// else `~/.local/share/parley`. Inside: `known_servers`, and one folder per server identity and
/// account (`server-<key hex>/<username>/`), folders 0700 and files 0600. A server's folder is
/// named after its key, not its address, so every node of a cluster finds the same accounts
/// (``ServerTrust``); folders of the previous layout, named `<host>_<port>`, are moved under the
/// key pinned for that address on first use (``migrateAddressFolders(pins:)``).
struct Home {
    let root: String

    static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> Home {
        if let explicit, !explicit.isEmpty { return Home(root: explicit) }
        if let home = environment["PARLEY_HOME"], !home.isEmpty { return Home(root: home) }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return Home(root: xdg + "/parley") }
        let user = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return Home(root: user + "/.local/share/parley")
    }

    func serverFolder(_ server: X25519PublicKey) -> String {
        root + "/" + ServerTrust.folderName(for: server)
    }

    func accountFolder(_ server: X25519PublicKey, _ user: Username) -> String {
        serverFolder(server) + "/" + user.value
    }

    var knownServersPath: String { root + "/known_servers" }

    /// Creates `path` and its parents with mode 0700.
    static func makeFolder(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(path, 0o700)
    }

    /// The accounts that exist on this server (none for a server never met), and the last one used.
    func accounts(on server: X25519PublicKey?) -> (all: [Username], last: Username?) {
        guard let server else { return ([], nil) }
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

    func rememberLastUser(_ user: Username, on server: X25519PublicKey) {
        let path = serverFolder(server) + "/last_user"
        _ = FileManager.default.createFile(atPath: path, contents: Data(user.value.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// Moves each folder of the previous layout (`<host>_<port>/`, named after an address) into
    /// the folder of the key pinned for that address, account by account, so that an upgraded
    /// client finds its accounts under any node of the same server. An account folder already
    /// present at the destination is left where it was (and named in the returned notes, to be
    /// shown); nothing is deleted. Idempotent: a second run finds nothing to move.
    @discardableResult
    func migrateAddressFolders(pins: [String: X25519PublicKey]) -> [String] {
        let manager = FileManager.default
        var notes: [String] = []
        for (address, key) in pins.sorted(by: { $0.key < $1.key }) {
            guard let server = ServerAddress(parsing: address) else { continue }
            let legacy = root + "/" + server.legacyFolderName
            var isFolder: ObjCBool = false
            guard manager.fileExists(atPath: legacy, isDirectory: &isFolder), isFolder.boolValue else { continue }
            let destination = serverFolder(key)
            if !manager.fileExists(atPath: destination), rename(legacy, destination) == 0 { continue }
            try? Home.makeFolder(destination)
            for entry in (try? manager.contentsOfDirectory(atPath: legacy)) ?? [] {
                let target = destination + "/" + entry
                if manager.fileExists(atPath: target) {
                    if entry != "last_user" { notes.append("\(legacy)/\(entry) was not moved: \(target) exists") }
                    continue
                }
                if rename(legacy + "/" + entry, target) != 0 {
                    notes.append("\(legacy)/\(entry) could not be moved to \(target): \(String(cString: strerror(errno)))")
                }
            }
            if entriesLeft(in: legacy) == ["last_user"] { try? manager.removeItem(atPath: legacy + "/last_user") }
            if entriesLeft(in: legacy).isEmpty { rmdir(legacy) }
        }
        return notes
    }

    private func entriesLeft(in folder: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
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

    /// The folder the previous layout named after this address (before folders were named after
    /// the server's key); read only to migrate it.
    var legacyFolderName: String { host.replacingOccurrences(of: ":", with: "_") + "_\(port)" }
}
