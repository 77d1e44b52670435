#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClientCore
import Envelope
import Primitives

/// ``ImageLibrary`` on the local file system, under the account's folder, for the images the
/// person saves in clear (the history's own copies are sealed blobs, see
/// `FileSystemImageBlobStore`):
/// `<root>/images/<peer>/<YYYY-MM-DD>/<HHMMSS>-<first 8 hex digits of the message id>.png`,
/// date and time in UTC from the moment the image was received.
///
/// Folders are created `0700` and files `0600`: received images are private to the user even on a
/// shared machine. Every path below the root is walked one component at a time with
/// `openat(O_NOFOLLOW)`, and files are created with `O_CREAT | O_EXCL`, so a symlink planted
/// inside the library (say `images/bob -> /etc`) makes the operation fail instead of writing or
/// deleting outside the root, and an existing file is never overwritten. The root itself is opened
/// normally: it is the user's own choice of folder and may legitimately be a symlink.
///
/// Plain POSIX calls rather than `FileManager`, because `FileManager` follows symlinks and cannot
/// create a file exclusively with a mode in one step.
public struct FileSystemImageLibrary: ImageLibrary {
    /// The account's folder, made absolute at initialisation.
    public let root: String

    /// A library under `root`, which is created (`0700`, one level) on the first save if missing.
    /// A relative `root` is resolved against the current directory now, so later `chdir` calls
    /// do not move the library.
    public init(root: String) {
        self.root = Self.absolute(root)
    }

    public func save(_ image: ValidatedImage, peer: Username, messageID: MessageID, receivedAt: Timestamp) throws(StoreError) -> String {
        let peerName = try Self.checkedPeer(peer)
        let time = UTCDateTime(receivedAt)
        let fileName = "\(time.timeStamp)-\(messageID.hex.prefix(8)).png"
        let components = ["images", peerName, time.dateStamp]
        let path = ([root] + components + [fileName]).joined(separator: "/")

        let directory = try openDirectory(components, create: true)
        defer { close(directory) }

        let fd = openat(directory, fileName, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST { throw .alreadyExists(path) }
            throw Self.writeFailure("cannot create \(path)", code)
        }
        // The mode passed to openat is reduced by the umask; fchmod makes it exactly 0600.
        var failure: StoreError? = nil
        if fchmod(fd, 0o600) != 0 {
            failure = .unavailable("cannot set permissions of \(path): \(Self.describe(errno))")
        } else if let code = Self.writeAll(image.png, to: fd) {
            failure = Self.writeFailure("cannot write \(path)", code)
        } else if fsync(fd) != 0 {
            failure = Self.writeFailure("cannot sync \(path)", errno)
        }
        close(fd)
        if let failure {
            // Leave no half-written image behind to be listed later.
            unlinkat(directory, fileName, 0)
            throw failure
        }
        return path
    }

    public func images(from peer: Username) throws(StoreError) -> [String] {
        let peerName = try Self.checkedPeer(peer)
        let peerDirectory: Int32
        do {
            peerDirectory = try openDirectory(["images", peerName], create: false)
        } catch .notFound {
            return []
        }
        defer { close(peerDirectory) }

        var paths: [String] = []
        for date in try Self.entries(of: peerDirectory, kind: .directory) {
            let dateDirectory = openat(peerDirectory, date, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard dateDirectory >= 0 else { continue }  // Vanished or replaced meanwhile: skip it.
            defer { close(dateDirectory) }
            for file in try Self.entries(of: dateDirectory, kind: .regularFile) where file.hasSuffix(".png") {
                paths.append([root, "images", peerName, date, file].joined(separator: "/"))
            }
        }
        return paths.sorted()
    }

    public func remove(_ paths: [String]) throws(StoreError) {
        // Check every path before deleting anything, so one bad path deletes nothing.
        var targets: [(directory: [String], file: String)] = []
        for path in paths {
            guard let target = libraryLocation(of: path) else {
                throw .notFound("not an image in this library: \(path)")
            }
            targets.append(target)
        }

        var touchedDirectories: [[String]] = []
        for target in targets {
            let directory: Int32
            do {
                directory = try openDirectory(target.directory, create: false)
            } catch .notFound {
                continue  // Already gone.
            }
            defer { close(directory) }
            // unlinkat on a symlink removes the link, never what it points to.
            if unlinkat(directory, target.file, 0) != 0, errno != ENOENT {
                throw .unavailable("cannot delete \(target.file): \(Self.describe(errno))")
            }
            if !touchedDirectories.contains(target.directory) { touchedDirectories.append(target.directory) }
        }

        // Prune date folders left empty, then peer folders left empty (an empty folder named
        // after a peer would still say whom the person talks to). rmdir refuses a folder that is
        // not empty, which is exactly the check wanted, without a race between looking and removing.
        let peerDirectories = touchedDirectories.map { Array($0.dropLast()) }
        for directory in touchedDirectories + peerDirectories {
            guard let name = directory.last else { continue }
            let parent: Int32
            do {
                parent = try openDirectory(Array(directory.dropLast()), create: false)
            } catch {
                continue
            }
            unlinkat(parent, name, AT_REMOVEDIR)
            close(parent)
        }
    }

    public func legacyImage(at path: String) throws(StoreError) -> (path: String, png: [UInt8]) {
        // Found by its place in the library, below this root: the account folder may have moved
        // since the previous version wrote the absolute path.
        let parts = Self.components(path)
        guard !parts.contains(".."), parts.count >= 4 else { throw .notFound("not an image in this library: \(path)") }
        let relocated = root + "/" + parts.suffix(4).joined(separator: "/")
        guard let target = libraryLocation(of: relocated) else { throw .notFound("not an image in this library: \(path)") }
        let directory = try openDirectory(target.directory, create: false)
        defer { close(directory) }
        let fd = openat(directory, target.file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw .notFound(relocated) }
            throw .unavailable("cannot open \(relocated): \(Self.describe(code))")
        }
        defer { close(fd) }
        return (relocated, try Self.readAll(fd, limit: EnvelopeLimits.maxImageBytes, what: relocated))
    }
}
