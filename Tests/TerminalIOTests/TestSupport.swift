#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Primitives

@testable import TerminalIO

/// The task's result, or nil if it takes longer than `seconds`; the task is then cancelled, which
/// ends a `LineEditor` read, so a broken test fails instead of hanging.
func result<T: Sendable>(of task: Task<T, Never>, within seconds: Double = 10) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await task.value }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        if first == nil { task.cancel() }
        group.cancelAll()
        return first
    }
}

/// Compares the fields of two termios (not their padding bytes).
func sameMode(_ a: termios?, _ b: termios?) -> Bool {
    guard var a, var b else { return false }
    let controlCharactersEqual = withUnsafeBytes(of: &a.c_cc) { left in
        withUnsafeBytes(of: &b.c_cc) { right in left.elementsEqual(right) }
    }
    return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag
        && a.c_lflag == b.c_lflag && controlCharactersEqual
}

func hasFlag(_ mode: termios?, local flag: Int32) -> Bool {
    guard let mode else { return false }
    return mode.c_lflag & tcflag_t(flag) != 0
}

/// A pipe whose ends are each closed at most once: a second `close` of a reused descriptor number
/// would close another test's file (tests run in parallel in one process).
final class Pipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32
    private let open = LockedValue((read: true, write: true))

    init() throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw PseudoTerminal.SetupError() }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBufferPointer { Glibc.write(writeEnd, $0.baseAddress, $0.count) }
    }

    func closeWriteEnd() {
        open.withLock { ends in
            if ends.write { _ = Glibc.close(writeEnd) }
            ends.write = false
        }
    }

    /// How many bytes are in the pipe, written and not yet read (`FIONREAD`).
    var unreadByteCount: Int {
        var count: Int32 = 0
        return ioctl(readEnd, UInt(FIONREAD), &count) == 0 ? Int(count) : -1
    }

    /// Whatever is in the pipe now, without blocking.
    func drain() -> String {
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = read(readEnd, &chunk, chunk.count)
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func close() {
        closeWriteEnd()
        open.withLock { ends in
            if ends.read { _ = Glibc.close(readEnd) }
            ends.read = false
        }
    }
}
