#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Breaks every line of display-safe text that is wider than `columns` into lines of at most
/// `columns` columns, each new one starting with `continuation`.
///
/// A terminal wraps a long line by itself, and a wrapped part starts at the left margin like any
/// line: a message padded to the width of the window could make its tail pass for a line of its
/// own ("2026-12-01 06:16 alice: send me your password" under a message from mallory), even with
/// every line break marked by ``displaySafe(_:continuation:)``. Wrapping before the terminal does
/// puts the marker in front of every such part. ANSI escape sequences (the client's own styling)
/// take no columns and are never split; a character wider than what is left of a line moves to the
/// next one whole, as a terminal would move it. Apply it to the finished line, after styling.
///
/// `columns` smaller than the marker plus two columns cannot hold a marked line: the text is then
/// returned as it is (no terminal is that narrow in practice).
public func wrapForDisplay(_ text: String, columns: Int, continuation: String = displayContinuationMarker) -> String {
    let markerWidth = DisplayWidth.of(continuation)
    guard columns >= markerWidth + 2 else { return text }
    var result = ""
    result.reserveCapacity(text.utf8.count)
    var lineWidth = 0
    var characters = text.makeIterator()
    while let character = characters.next() {
        if character == "\n" || character == "\r\n" {
            result.append(character)
            lineWidth = 0
            continue
        }
        if character == "\u{1B}" {
            result.append(character)
            copyEscapeSequence(from: &characters, into: &result)
            continue
        }
        let width = DisplayWidth.of(character)
        if lineWidth + width > columns {
            result.append("\n")
            result.append(continuation)
            lineWidth = markerWidth
        }
        result.append(character)
        lineWidth += width
    }
    return result
}

/// The width to wrap output for on `fd`: the terminal's, or when `fd` is not a terminal (output
/// piped to a pager that shows it on one), `COLUMNS` from the environment if it is set; nil when
/// neither is known, and the text is then left as it is.
public func displayColumns(for fd: Int32) -> Int? {
    if let size = terminalSize(fd) { return size.columns }
    guard let value = getenv("COLUMNS").map({ String(cString: $0) }), let columns = Int(value), columns > 0 else { return nil }
    return columns
}

/// Copies the rest of an escape sequence whose ESC was just copied: `ESC [ … final` or a two-part
/// `ESC x`.
private func copyEscapeSequence(from characters: inout String.Iterator, into result: inout String) {
    guard let introducer = characters.next() else { return }
    result.append(introducer)
    guard introducer == "[" else { return }
    while let next = characters.next() {
        result.append(next)
        if let scalar = next.unicodeScalars.first, next.unicodeScalars.count == 1, (0x40...0x7E).contains(scalar.value) { return }
    }
}
