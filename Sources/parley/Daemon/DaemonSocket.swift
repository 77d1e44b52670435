import Foundation
import Primitives

#if canImport(Glibc)
import Glibc
#endif

/// Where an account's daemon listens, and the checks that make the socket private: a folder of
/// mode 0700 owned by this user, a socket of mode 0600, and a refusal when anything on the way
/// belongs to someone else.
enum DaemonSocket {
    /// `--socket`, else `$XDG_RUNTIME_DIR/parley/<user>.sock`, else (no runtime folder, as over
    /// ssh without a login session) `$TMPDIR/parley-<uid>/<user>.sock` with `/tmp` for `$TMPDIR`.
    static func path(for user: Username, explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let explicit { return explicit }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime + "/parley/\(user.value).sock"
        }
        let temporary = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return temporary + "/parley-\(getuid())/\(user.value).sock"
    }

    /// The most bytes of a socket path (`sun_path`, with its terminating zero).
    static let maxPathBytes = 107

    /// Makes the socket's folder (0700) if needed, and refuses a folder or socket that belongs to
    /// another user, a folder others may enter, a path too long for a socket, and a socket some
    /// daemon still answers on. A stale socket of ours is removed.
    static func prepare(_ path: String) throws(CLIError) {
        guard path.utf8.count <= maxPathBytes else {
            throw .usage("the socket path \(path) is longer than \(maxPathBytes) bytes; choose a shorter one with --socket")
        }
        let folder = (path as NSString).deletingLastPathComponent
        var info = stat()
        if lstat(folder, &info) != 0 {
            if mkdir(folder, 0o700) != 0 && errno != EEXIST {
                throw .local("cannot create \(folder): \(String(cString: strerror(errno)))")
            }
            guard lstat(folder, &info) == 0 else { throw .local("cannot inspect \(folder)") }
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .local("\(folder) is not a folder") }
        guard info.st_uid == getuid() else {
            throw .local("refusing to listen in \(folder): it belongs to another user (uid \(info.st_uid))")
        }
        if info.st_mode & 0o077 != 0, chmod(folder, 0o700) != 0 {
            throw .local("\(folder) is open to other users and cannot be made private")
        }
        if lstat(path, &info) == 0 {
            guard info.st_uid == getuid() else {
                throw .local("refusing to start: \(path) belongs to another user (uid \(info.st_uid))")
            }
            guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw .local("refusing to start: \(path) exists and is not a socket") }
            if DaemonClient(path: path) != nil { throw .usage("a daemon already listens on \(path)") }
            unlink(path)
        }
    }
}
