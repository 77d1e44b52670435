import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for one test, so that a disk can be made honestly full: a write that
/// needs a new page fails with ENOSPC, which SQLite reports as SQLITE_FULL ("database or disk is
/// full"), while the process keeps running and can still read.
///
/// Rejected: `RLIMIT_FSIZE` (`prlimit --fsize`, SIGXFSZ ignored). It caps the offset of every
/// write to every file, not the disk: SQLite reports a disk I/O error (SQLITE_IOERR_WRITE), not a
/// full disk, and at 32 KiB (the least that lets the shared-memory index open) the write-ahead
/// log still took a first message before the rest failed.
final class SmallDisk {
    /// Mounting is not possible here (not root, or no CAP_SYS_ADMIN).
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    let path: String
    private var mounted = false
    private var fillerPath: String { path + "/filler" }

    /// Mounts a tmpfs of `megabytes` at `path` (created if needed).
    init(at path: String, megabytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let status = Self.command("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path])
        guard status == 0 else { throw Unavailable(description: "mount -t tmpfs failed with status \(status)") }
        mounted = true
    }

    /// Fills the disk so that exactly `bytes` (rounded up to whole 4 KiB pages) stay free: a
    /// reserve of that size is written first, then a filler until ENOSPC, then the reserve goes.
    func fill(leaving bytes: Int) throws {
        let reserve = path + "/reserve"
        try writeZeros(to: reserve, upTo: (bytes + 4095) / 4096 * 4096)
        try writeZeros(to: fillerPath, upTo: nil)
        try FileManager.default.removeItem(atPath: reserve)
    }

    /// Makes room again.
    func free() throws {
        try FileManager.default.removeItem(atPath: fillerPath)
    }

    /// Writes zero pages to `file` until `limit` bytes, or with no limit until the disk is full.
    private func writeZeros(to file: String, upTo limit: Int?) throws {
        let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw Unavailable(description: "cannot create \(file): errno \(errno)") }
        defer { close(descriptor) }
        let page = [UInt8](repeating: 0, count: 4096)
        var written = 0
        while limit.map({ written < $0 }) ?? true {
            let count = page.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ENOSPC, limit == nil { return }
                throw Unavailable(description: "writing \(file) failed after \(written) bytes: errno \(errno)")
            }
            if count < page.count, limit == nil { return }  // the last partial page: full
            written += count
        }
    }

    /// Unmounts (lazily if something still has a file open there). Safe to call twice.
    func unmount() {
        guard mounted else { return }
        if Self.command("/usr/bin/env", ["umount", path]) != 0 {
            _ = Self.command("/usr/bin/env", ["umount", "-l", path])
        }
        mounted = false
    }

    deinit { unmount() }

    /// Runs a short system command to the end; its exit status (-1 if it could not start).
    private static func command(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
