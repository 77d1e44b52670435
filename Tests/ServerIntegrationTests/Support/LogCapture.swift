import Foundation
import Primitives

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Captures what a child process writes to one stream (its stderr or stdout): every byte (for searching) and every complete
/// line (to wait on), read by a dedicated thread until end of file.
///
/// The socket pair is created close-on-exec, so no other child spawned meanwhile inherits its write end
/// (which would delay the end of file until that child exits too).
final class LogCapture: Sendable {
    /// Complete lines, in order; finishes at end of file.
    let lines = Observed<String>()
    private let bytes = LockedValue<[UInt8]>([])
    /// The write end, for the child; close it in the parent once the child has started.
    let writeHandle: FileHandle
    private let readDescriptor: Int32

    init() throws {
        // A socket pair rather than pipe(): it can be created close-on-exec atomically (Glibc's
        // module does not export pipe2), and a child writes to it exactly as to a pipe.
        var descriptors: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &descriptors) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        readDescriptor = descriptors[0]
        writeHandle = FileHandle(fileDescriptor: descriptors[1], closeOnDealloc: true)
    }

    /// Starts the reader thread. It closes the read end when the writer side is gone.
    func start() {
        let thread = Thread { [self] in readUntilEndOfFile() }
        thread.name = "parley-itest-log"
        thread.start()
    }

    /// Everything captured so far, as bytes.
    var captured: [UInt8] { bytes.withLock { $0 } }

    /// Everything captured so far, as text.
    var text: String { String(decoding: captured, as: UTF8.self) }

    private func readUntilEndOfFile() {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readDescriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            let chunk = buffer[0..<count]
            bytes.withLock { $0.append(contentsOf: chunk) }
            pending.append(contentsOf: chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
        close(readDescriptor)
        lines.finish()
    }
}
