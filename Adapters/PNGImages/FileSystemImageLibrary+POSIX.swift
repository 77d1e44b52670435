// Why the directory-walking helpers below use raw POSIX calls: see FileSystemImageLibrary.swift.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Primitives

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

    /// Writes all of `bytes`, retrying short writes and EINTR. Returns the failing errno (ENOSPC
    /// when nothing was written) or nil.
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32? {
        bytes.withUnsafeBytes { buffer -> Int32? in
            var offset = 0
            while offset < buffer.count {
                let count = write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                // write(2) returns 0 for a non-empty buffer only when no space is left.
                if count == 0 { return ENOSPC }
                offset += count
            }
            return nil
        }
    }

    /// Reads the regular file `fd` whole, refusing one larger than `limit` bytes before reading it.
    static func readAll(_ fd: Int32, limit: Int, what: String) throws(StoreError) -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unavailable("cannot read \(what): \(describe(errno))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unavailable("\(what) is not a regular file") }
        guard info.st_size <= limit else { throw .corrupt("\(what) is \(info.st_size) bytes, more than \(limit)") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unavailable("cannot read \(what): \(describe(errno))")
            }
            if count == 0 { throw .unavailable("\(what) shrank while it was read") }
            offset += count
        }
        return bytes
    }

    /// The store error for a failed write or sync: a full disk (or quota, or file-size limit) is
    /// ``StoreError/diskFull(_:)``, so the application can say "free some space".
    static func writeFailure(_ what: String, _ code: Int32) -> StoreError {
        switch code {
        case ENOSPC, EDQUOT, EFBIG: .diskFull("\(what): \(describe(code))")
        default: .unavailable("\(what): \(describe(code))")
        }
    }

    static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: text)) (errno \(code))"
    }
}
