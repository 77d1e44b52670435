import Foundation

/// A fresh private directory (mode 0700) under the system temporary directory; the caller removes
/// it with ``remove()`` in a `defer`.
struct TemporaryDirectory: Sendable {
    let path: String

    init(_ label: String) throws {
        path = NSTemporaryDirectory() + "parley-itest-\(label)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    /// A path inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
