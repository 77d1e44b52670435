#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClientCore
import Envelope
import Primitives

/// ``ImageLibrary`` on the local file system, under the account's folder:
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
            throw .unavailable("cannot create \(path): \(Self.describe(code))")
        }
        // The mode passed to openat is reduced by the umask; fchmod makes it exactly 0600.
        var failure: StoreError? = nil
        if fchmod(fd, 0o600) != 0 {
            failure = .unavailable("cannot set permissions of \(path): \(Self.describe(errno))")
        } else if let error = Self.writeAll(image.png, to: fd) {
            failure = .unavailable("cannot write \(path): \(error)")
        } else if fsync(fd) != 0 {
            failure = .unavailable("cannot sync \(path): \(Self.describe(errno))")
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

        // Prune date folders left empty. rmdir refuses a folder that is not empty, which is
        // exactly the check wanted, without a race between looking and removing.
        for directory in touchedDirectories {
            guard let dateName = directory.last else { continue }
            let parent: Int32
            do {
                parent = try openDirectory(Array(directory.dropLast()), create: false)
            } catch {
                continue
            }
            unlinkat(parent, dateName, AT_REMOVEDIR)
            close(parent)
        }
    }
}

// MARK: - Paths

extension FileSystemImageLibrary {
    /// For an absolute path of the exact shape `<root>/images/<peer>/<YYYY-MM-DD>/<name>.png`,
    /// the folder components below the root and the file name; nil for anything else. Purely
    /// lexical (`..` is refused outright rather than resolved); symlinks are refused later, when
    /// the folders are opened with O_NOFOLLOW.
    func libraryLocation(of path: String) -> (directory: [String], file: String)? {
        guard path.hasPrefix("/") else { return nil }
        let parts = Self.components(path)
        let rootParts = Self.components(root)
        guard !parts.contains(".."), parts.count == rootParts.count + 4,
            Array(parts.prefix(rootParts.count)) == rootParts
        else { return nil }
        let rest = Array(parts.dropFirst(rootParts.count))
        guard rest[0] == "images",
            let peer = try? Username(rest[1]), peer.value == rest[1],
            UTCDateTime.isDateStamp(rest[2]),
            rest[3].hasSuffix(".png"), rest[3].count > 4
        else { return nil }
        return (Array(rest.prefix(3)), rest[3])
    }

    /// Opens `components` below the root as a directory, one component at a time, never following
    /// a symlink. With `create`, missing folders (and the root itself) are made with mode 0700.
    /// - Throws: ``StoreError/notFound(_:)`` when a folder is missing and `create` is false;
    ///   ``StoreError/unavailable(_:)`` otherwise (including a component that is a symlink).
    func openDirectory(_ components: [String], create: Bool) throws(StoreError) -> Int32 {
        var current = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if current < 0, errno == ENOENT, create {
            if mkdir(root, 0o700) != 0, errno != EEXIST {
                throw .unavailable("cannot create \(root): \(Self.describe(errno))")
            }
            current = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        }
        guard current >= 0 else {
            let code = errno
            if code == ENOENT { throw .notFound(root) }
            throw .unavailable("cannot open \(root): \(Self.describe(code))")
        }
        for name in components {
            guard Self.isSafeComponent(name) else {
                close(current)
                throw .unavailable("unsafe path component \(name.debugDescription)")
            }
            var created = false
            if create {
                if mkdirat(current, name, 0o700) == 0 {
                    created = true
                } else if errno != EEXIST {
                    let code = errno
                    close(current)
                    throw .unavailable("cannot create folder \(name): \(Self.describe(code))")
                }
            }
            let next = openat(current, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(current)
            guard next >= 0 else {
                if code == ENOENT { throw .notFound(name) }
                // ELOOP or ENOTDIR: a symlink or a file where a folder belongs.
                throw .unavailable("cannot open folder \(name): \(Self.describe(code))")
            }
            // The umask may have narrowed the mode; make a new folder exactly 0700.
            if created, fchmod(next, 0o700) != 0 {
                let code = errno
                close(next)
                throw .unavailable("cannot set permissions of folder \(name): \(Self.describe(code))")
            }
            current = next
        }
        return current
    }

    /// One path component that cannot climb or split: not empty, not `.` or `..`, no `/` or NUL.
    /// Usernames always pass; this guards against a future change to the username rules.
    static func isSafeComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
    }

    static func checkedPeer(_ peer: Username) throws(StoreError) -> String {
        guard isSafeComponent(peer.value) else {
            throw .unavailable("peer name is not a safe folder name: \(peer.value.debugDescription)")
        }
        return peer.value
    }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }

    static func absolute(_ path: String) -> String {
        var normalised = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                normalised = cwd + "/" + path
            }
        }
        let parts = components(normalised)
        return normalised.hasPrefix("/") ? "/" + parts.joined(separator: "/") : parts.joined(separator: "/")
    }
}

// MARK: - POSIX helpers

extension FileSystemImageLibrary {
    enum EntryKind { case directory, regularFile }

    /// Names in the open directory `fd` of the given kind, judged without following symlinks
    /// (so a symlink is neither). Does not close `fd`.
    static func entries(of fd: Int32, kind: EntryKind) throws(StoreError) -> [String] {
        // fdopendir takes ownership of its descriptor, so give it a duplicate.
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            let code = errno
            throw .unavailable("cannot list folder: \(describe(code))")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != ".." else { continue }
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            switch kind {
            case .directory where type == S_IFDIR: names.append(name)
            case .regularFile where type == S_IFREG: names.append(name)
            default: break
            }
        }
        return names
    }

    /// Writes all of `bytes`, retrying short writes and EINTR. Returns an error description or nil.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> String? {
        bytes.withUnsafeBytes { buffer -> String? in
            var offset = 0
            while offset < buffer.count {
                let count = write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return describe(errno)
                }
                if count == 0 { return "wrote nothing" }
                offset += count
            }
            return nil
        }
    }

    static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: text)) (errno \(code))"
    }
}
