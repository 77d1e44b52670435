import ClientCore
import Foundation
import Primitives

/// The client's pins of server keys, one `HOST:PORT HEX` line each, in `<home>/known_servers`: the
/// file adapter of ``KnownServerStore``. Which key to expect and what to pin is decided by
/// ``ServerTrust``; this only reads and writes the file (replaced atomically, 0600).
struct KnownServers: KnownServerStore {
    let path: String

    func pins() throws(StoreError) -> [String: X25519PublicKey] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .unavailable("cannot read \(path)")
        }
        var result: [String: X25519PublicKey] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let bytes = Hex.decode(parts[1]), let key = try? X25519PublicKey(bytes: bytes) else { continue }
            result[String(parts[0])] = key
        }
        return result
    }

    func pin(_ key: X25519PublicKey, for addresses: [String]) throws(StoreError) {
        guard !addresses.isEmpty else { return }
        var all = try pins()
        for address in addresses { all[address] = key }
        let text = all.keys.sorted().map { "\($0) \(Hex.encode(all[$0]!.bytes))" }.joined(separator: "\n") + "\n"
        let folder = (path as NSString).deletingLastPathComponent
        do { try Home.makeFolder(folder) } catch { throw .unavailable("cannot create \(folder)") }
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw .unavailable("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else { throw .unavailable("cannot replace \(path): \(String(cString: strerror(errno)))") }
    }
}
