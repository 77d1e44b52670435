/// One editing key, decoded from the bytes a terminal sends in raw mode.
enum Key: Equatable, Sendable {
    /// A printable character (ASCII or a complete UTF-8 sequence).
    case character(Character)
    case enter
    case backspace
    /// Delete the character under the cursor (the Delete key).
    case delete
    case left
    case right
    /// Ctrl-Left / Alt-B.
    case wordLeft
    /// Ctrl-Right / Alt-F.
    case wordRight
    /// Home or Ctrl-A.
    case home
    /// End or Ctrl-E.
    case end
    /// Up arrow or Ctrl-P: the previous history entry.
    case up
    /// Down arrow or Ctrl-N: the next history entry.
    case down
    /// Ctrl-C.
    case interrupt
    /// Ctrl-D: end of input on an empty line, delete forward otherwise.
    case endOfTransmission
    /// Ctrl-U: delete from the start of the line to the cursor.
    case killToStart
    /// Ctrl-K: delete from the cursor to the end of the line.
    case killToEnd
    /// Ctrl-W: delete the word before the cursor.
    case deleteWordBackward
    /// Ctrl-L: draw the line again.
    case redraw
}
