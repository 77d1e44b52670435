/// The bounds the terminal adapter applies, in one place.
enum TerminalLimits {
    /// The longest line, in UTF-8 bytes, that `readLine` and `readPassword` accept. Keystrokes past it
    /// are dropped in raw mode; in line mode the rest of the line is read and discarded, so a runaway
    /// pipe cannot grow memory without bound and the next line still starts in the right place.
    static let maxLineBytes = 64 * 1024

    /// How many lines the in-memory history keeps (oldest dropped first).
    static let historyCapacity = 500

    /// How long a lone ESC waits for the rest of an escape sequence before it is dropped. Terminals
    /// send a key's whole sequence in one write, so this only matters for a bare Escape key press.
    static let escapeTimeoutMilliseconds: Int32 = 50

    /// How many bytes one `read` takes from a terminal in raw mode (a paste arrives in such chunks).
    static let readChunkBytes = 256

    /// Longest parameter string kept for one CSI escape sequence; longer ones are skipped unread.
    static let maxEscapeSequenceBytes = 16

    /// Fallback width when the terminal does not report one (pipes, a fresh pseudo-terminal).
    static let defaultColumns = 80
}
