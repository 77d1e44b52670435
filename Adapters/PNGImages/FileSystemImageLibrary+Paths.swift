// How library paths are checked, opened and made absolute, without ever following a symlink below the root.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Primitives

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
