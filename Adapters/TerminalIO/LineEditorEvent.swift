/// What one ``LineEditor/readLine(prompt:)`` call ended with.
public enum LineEditorEvent: Equatable, Sendable {
    /// The user pressed Enter (or, on a pipe, a newline or end of input ended a non-empty line).
    /// The text carries no line terminator.
    case line(String)
    /// The user pressed Ctrl-C. The partial line is abandoned.
    case interrupt
    /// Ctrl-D on an empty line, end of input, a terminal that went away, ``LineEditor/restore()``
    /// called during the read, or cancellation of the reading task.
    case endOfInput
}
