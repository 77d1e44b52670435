#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClientCore
import Conversations
import Primitives

/// ``ImageBlobStore`` on the local file system: `<root>/blobs/<32 hex digits>`, one flat folder,
/// with nothing in a name but the random id (no peer, no date, no message id).
///
/// A blob is written to `<id>.tmp-<random>` (created exclusively, `0600`), synced, renamed into
/// place with `renameat` (atomic: a reader sees the whole blob or none, and a crash leaves at worst
/// a temporary file, which `write` never reads and the next write of that id ignores), and the
/// folder is synced so the rename itself survives a crash. The folder is `0700`. As in
/// ``FileSystemImageLibrary``, the folder is opened with `O_NOFOLLOW` below the root, so a symlink
/// planted as `blobs` makes every operation fail instead of writing elsewhere; what is written is
/// already sealed by `ImageSealer`, so the adapter never sees an image in clear.
public struct FileSystemImageBlobStore: ImageBlobStore {
    /// The account's folder, made absolute at initialisation.
    public let root: String
    static let folder = "blobs"

    /// A blob store under `root` (created `0700` on the first write if missing).
    public init(root: String) {
        self.root = FileSystemImageLibrary.absolute(root)
    }

    /// The path of blob `id` (for tests and diagnostics; the application never needs it).
    public func path(of id: ImageBlobID) -> String { "\(root)/\(Self.folder)/\(id.hex)" }

    public func write(_ bytes: [UInt8], as id: ImageBlobID) throws(StoreError) {
        let directory = try FileSystemImageLibrary(root: root).openDirectory([Self.folder], create: true)
        defer { close(directory) }
        let name = id.hex
        var probe = stat()
        if fstatat(directory, name, &probe, AT_SYMLINK_NOFOLLOW) == 0 { throw .alreadyExists(path(of: id)) }
        // A name of its own per attempt, so that two writers (or a crashed one) never share one.
        var suffix = [UInt8](repeating: 0, count: 8)
        for index in suffix.indices { suffix[index] = UInt8.random(in: 0...255) }
        let temporary = "\(name).tmp-\(Hex.encode(suffix))"
        let fd = openat(directory, temporary, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystemImageLibrary.writeFailure("cannot create a blob in \(root)/\(Self.folder)", errno) }
        var failure: StoreError? = nil
        if fchmod(fd, 0o600) != 0 {
            failure = .unavailable("cannot set permissions of a blob: \(FileSystemImageLibrary.describe(errno))")
        } else if let code = FileSystemImageLibrary.writeAll(bytes, to: fd) {
            failure = FileSystemImageLibrary.writeFailure("cannot write blob \(name)", code)
        } else if fsync(fd) != 0 {
            failure = FileSystemImageLibrary.writeFailure("cannot sync blob \(name)", errno)
        }
        close(fd)
        if failure == nil, renameat(directory, temporary, directory, name) != 0 {
            failure = FileSystemImageLibrary.writeFailure("cannot put blob \(name) in place", errno)
        }
        if let failure {
            unlinkat(directory, temporary, 0)
            throw failure
        }
        // The rename is durable only once the folder is synced.
        if fsync(directory) != 0 {
            let code = errno
            unlinkat(directory, name, 0)
            throw FileSystemImageLibrary.writeFailure("cannot sync \(root)/\(Self.folder)", code)
        }
    }

    public func read(_ id: ImageBlobID) throws(StoreError) -> [UInt8] {
        let directory: Int32
        do {
            directory = try FileSystemImageLibrary(root: root).openDirectory([Self.folder], create: false)
        } catch .notFound {
            throw .notFound(path(of: id))
        }
        defer { close(directory) }
        let fd = openat(directory, id.hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw .notFound(path(of: id)) }
            throw .unavailable("cannot open blob \(id.hex): \(FileSystemImageLibrary.describe(code))")
        }
        defer { close(fd) }
        return try FileSystemImageLibrary.readAll(fd, limit: ImageSealer.maxBlobBytes, what: "blob \(id.hex)")
    }

    public func remove(_ ids: [ImageBlobID]) throws(StoreError) {
        guard !ids.isEmpty else { return }
        let directory: Int32
        do {
            directory = try FileSystemImageLibrary(root: root).openDirectory([Self.folder], create: false)
        } catch .notFound {
            return
        }
        defer { close(directory) }
        for id in ids where unlinkat(directory, id.hex, 0) != 0 && errno != ENOENT {
            throw .unavailable("cannot delete blob \(id.hex): \(FileSystemImageLibrary.describe(errno))")
        }
    }

    /// The ids of every blob stored (temporary files excluded), for tests and for finding blobs
    /// no history entry refers to.
    public func allIDs() throws(StoreError) -> [ImageBlobID] {
        let directory: Int32
        do {
            directory = try FileSystemImageLibrary(root: root).openDirectory([Self.folder], create: false)
        } catch .notFound {
            return []
        }
        defer { close(directory) }
        return try FileSystemImageLibrary.entries(of: directory, kind: .regularFile).compactMap { ImageBlobID(hex: $0) }
    }
}
