#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Primitives

@testable import TerminalIO

/// A pseudo-terminal for driving a `LineEditor`: the editor gets the slave side as its terminal;
/// the test types into the master side and collects everything the editor draws.
///
/// A background thread drains the master continuously (a full pty buffer would block the editor's
/// writes) and polls with a short timeout so it can be stopped without closing a descriptor under it.
final class PseudoTerminal: Sendable {
    let master: Int32
    let slave: Int32
    private let received = LockedValue<[UInt8]>([])
    private let stopped = LockedValue(false)
    private let finishedReading = DispatchSemaphore(value: 0)

    struct SetupError: Error {}

    init(columns: UInt16 = 80, rows: UInt16 = 24) throws {
        var master: Int32 = -1
        var slave: Int32 = -1
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&master, &slave, nil, nil, &size) == 0 else { throw SetupError() }
        self.master = master
        self.slave = slave
        let thread = Thread { [self] in drainMaster() }
        thread.start()
    }

    private func drainMaster() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !stopped.withLock({ $0 }) {
            var descriptor = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 20) > 0 else { continue }
            let count = read(master, &chunk, chunk.count)
            if count > 0 {
                received.withLock { $0.append(contentsOf: chunk[..<count]) }
            } else if count < 0, errno != EINTR, errno != EAGAIN {
                break
            }
        }
        finishedReading.signal()
    }

    /// Sends keystrokes as the terminal would (all bytes in one write unless `byteByByte`).
    func type(_ keys: String, byteByByte: Bool = false) {
        let bytes = Array(keys.utf8)
        if byteByByte {
            for byte in bytes {
                var byte = byte
                _ = write(master, &byte, 1)
                usleep(2_000)
            }
        } else {
            _ = bytes.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count) }
        }
    }

    /// Everything the editor has written so far.
    var output: [UInt8] { received.withLock { $0 } }
    var outputText: String { String(decoding: output, as: UTF8.self) }

    /// What a terminal of this width would show after the output so far.
    func screen(columns: Int = 80) -> Screen {
        var screen = Screen(columns: columns)
        screen.feed(output)
        return screen
    }

    /// Polls until `condition` holds on the screen, for at most `seconds`.
    func waitForScreen(
        columns: Int = 80, seconds: Double = 10, _ condition: (Screen) -> Bool
    ) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(screen(columns: columns)) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(screen(columns: columns))
    }

    func mode() -> termios? { TerminalMode.current(slave) }

    func close() {
        stopped.withLock { $0 = true }
        finishedReading.wait()
        _ = Glibc.close(slave)
        _ = Glibc.close(master)
    }
}

/// A minimal terminal emulator: enough of VT100 to replay what the editor writes (printable text,
/// CR, LF, `ESC [ K`, `ESC [ n C`, `ESC [ n D`, SGR colours ignored) and report the screen.
struct Screen {
    let columns: Int
    private(set) var rows: [[Character]] = [[]]
    private(set) var row = 0
    private(set) var column = 0
    /// Whether anything was written past the last column (the editor promises never to).
    private(set) var wrapped = false

    init(columns: Int) { self.columns = columns }

    /// The text of the row the cursor is on, blanks written by the editor included (so that
    /// "prompt> " can be told from "prompt>").
    var currentLine: String { text(ofRow: row) }

    /// All rows.
    var lines: [String] { rows.indices.map(text(ofRow:)) }

    func text(ofRow index: Int) -> String {
        String(rows[index].filter { $0 != "\u{0}" })
    }

    mutating func feed(_ bytes: [UInt8]) {
        var scalars = String(decoding: bytes, as: UTF8.self).unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar {
            case "\r": column = 0
            case "\n": newRow()
            case "\u{1B}":
                guard scalars.next() == "[" else { continue }
                var parameters = ""
                var final: Unicode.Scalar = "?"
                while let next = scalars.next() {
                    if (0x40...0x7E).contains(next.value) {
                        final = next
                        break
                    }
                    parameters.unicodeScalars.append(next)
                }
                let count = Int(parameters) ?? 1
                switch final {
                case "K": ensureRow(); rows[row].removeSubrange(min(column, rows[row].count)...)
                case "C": column = min(column + count, columns - 1)
                case "D": column = max(column - count, 0)
                default: break  // SGR and anything else: no effect on text
                }
            default:
                guard scalar.value >= 0x20 else { continue }
                put(Character(scalar))
            }
        }
    }

    private mutating func newRow() {
        row += 1
        ensureRow()
    }

    private mutating func ensureRow() {
        while rows.count <= row { rows.append([]) }
    }

    private mutating func put(_ character: Character) {
        let width = DisplayWidth.of(character)
        if width == 0 {
            // A combining mark joins the previous cell.
            if column > 0, column - 1 < rows[row].count {
                rows[row][column - 1] = Character(String(rows[row][column - 1]) + String(character))
            }
            return
        }
        if column + width > columns {
            wrapped = true
            column = 0
            newRow()
        }
        ensureRow()
        while rows[row].count < column + width { rows[row].append(" ") }
        rows[row][column] = character
        // A wide character's second cell holds a placeholder that `text(ofRow:)` skips.
        if width == 2 { rows[row][column + 1] = "\u{0}" }
        column += width
    }
}
