import Foundation
import Primitives

/// The client's pins of server keys, one `HOST:PORT HEX` line each, in `<home>/known_servers`.
/// The first connection to a server pins the key it proves (trust on first use); later
/// connections must prove the same key.
struct KnownServers {
    let path: String

    func pinnedKey(for server: ServerAddress) -> X25519PublicKey? {
        entries()[server.description]
    }

    func pin(_ key: X25519PublicKey, for server: ServerAddress) throws {
        var all = entries()
        all[server.description] = key
        let text = all.keys.sorted().map { "\($0) \(Hex.encode(all[$0]!.bytes))" }.joined(separator: "\n") + "\n"
        let folder = (path as NSString).deletingLastPathComponent
        try Home.makeFolder(folder)
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError.local("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else { throw CLIError.local("cannot replace \(path): \(String(cString: strerror(errno)))") }
    }

    private func entries() -> [String: X25519PublicKey] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var result: [String: X25519PublicKey] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let bytes = Hex.decode(parts[1]), let key = try? X25519PublicKey(bytes: bytes) else { continue }
            result[String(parts[0])] = key
        }
        return result
    }
}
