/// Draws the prompt and the line on one terminal row, scrolling the line sideways to keep the
/// cursor visible.
///
/// Horizontal scrolling was chosen over letting a long line wrap onto several rows: a wrapped line
/// forces the editor to track how many rows it spans (and to guess the terminal's auto-wrap quirks)
/// to clear it before each redraw and before ``LineEditor/printAbove(_:)``; one row is cleared with
/// a single `CR` + `ESC [ K` whatever the line's length. The last column is never written, because
/// writing there leaves many terminals in a "pending wrap" state where the next byte jumps a row.
struct LineRenderer {
    /// Index of the first character shown; kept between redraws so the view does not jump.
    private(set) var scrollOffset = 0

    /// The bytes that redraw the row: `CR`, prompt, visible part of the line, clear to end of row,
    /// `CR` and a move right to the cursor's column.
    mutating func render(prompt: String, buffer: EditBuffer, columns: Int) -> String {
        let promptWidth = DisplayWidth.of(prompt)
        let available = max(columns - promptWidth - 1, 1)
        let widths = buffer.characters.map(DisplayWidth.of)
        let cursor = buffer.cursor

        var offset = min(scrollOffset, cursor)
        var widthBeforeCursor = widths[offset..<cursor].reduce(0, +)
        while widthBeforeCursor > available, offset < cursor {
            widthBeforeCursor -= widths[offset]
            offset += 1
        }
        // After a deletion, scroll back so the row is not left half empty.
        var widthToEnd = widths[offset...].reduce(0, +)
        while offset > 0, widthToEnd + widths[offset - 1] <= available {
            offset -= 1
            widthToEnd += widths[offset]
            widthBeforeCursor += widths[offset]
        }
        scrollOffset = offset

        var visible = ""
        var used = 0
        for index in offset..<widths.count {
            guard used + widths[index] <= available else { break }
            used += widths[index]
            visible.append(buffer.characters[index])
        }
        let column = promptWidth + widthBeforeCursor
        return "\r" + prompt + visible + "\u{1B}[K\r" + (column > 0 ? "\u{1B}[\(column)C" : "")
    }

    mutating func reset() { scrollOffset = 0 }
}
