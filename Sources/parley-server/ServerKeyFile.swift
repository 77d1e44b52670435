import Foundation
import Primitives

/// The server's long-term Noise static key, kept in the data directory (mode 0600) and generated
/// on first start. Clients pin its public half.
enum ServerKeyFile {
    static let fileName = "server-static-key"

    enum Failure: Error, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case malformed(path: String)
        case unwritable(path: String, reason: String)

        var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read the server key at \(path): \(reason)"
            case .malformed(let path): "the server key file \(path) is not a 32-byte key; move it away to generate a new one (clients will then warn that the key changed)"
            case .unwritable(let path, let reason): "cannot write the server key at \(path): \(reason)"
            }
        }
    }

    /// Loads the key pair from `directory`, creating it (and the directory, 0700) if absent.
    static func loadOrCreate(in directory: String, crypto: any CryptoProvider, random: any RandomSource) throws -> X25519KeyPair {
        let path = (directory as NSString).appendingPathComponent(fileName)
        let manager = FileManager.default
        if !manager.fileExists(atPath: directory) {
            do {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw Failure.unwritable(path: directory, reason: "\(error)")
            }
        }
        if manager.fileExists(atPath: path) {
            guard let data = manager.contents(atPath: path) else { throw Failure.unreadable(path: path, reason: "permission denied") }
            guard data.count == X25519SecretKey.byteCount else { throw Failure.malformed(path: path) }
            var bytes = [UInt8](data)
            defer { bytes.withUnsafeMutableBufferPointer { for index in $0.indices { $0[index] = 0 } } }
            return try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: bytes)))
        }
        let pair = try crypto.generateX25519KeyPair(using: random)
        // O_EXCL: never overwrite a key another process just created; 0600 from the first byte.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw Failure.unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let written = pair.secretKey.secret.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == X25519SecretKey.byteCount, fsync(descriptor) == 0 else {
            throw Failure.unwritable(path: path, reason: String(cString: strerror(errno)))
        }
        return pair
    }
}
