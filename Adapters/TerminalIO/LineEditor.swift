#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Primitives
import Synchronization

/// Reads lines and passwords from a terminal while other tasks print above the input line.
///
/// **Interactive** (both `input` and `output` are terminals): each read switches the terminal to raw
/// mode and edits the line itself — printable UTF-8, Backspace, Delete, Left/Right, Home/End,
/// Ctrl-A/E/B/F/U/K/W/L, Ctrl-Left/Right by word, Up/Down (or Ctrl-P/N) through an in-memory
/// history of the last 500 distinct lines. A line wider than the terminal scrolls sideways within
/// one row. Unknown escape sequences (function keys and the like) are consumed and ignored.
///
/// **Line mode** (either side is not a terminal, e.g. `parley < script` or `parley | tee log`): no
/// raw mode, no escape codes, no prompt on `output`; lines are read one byte at a time, so the
/// descriptor is left positioned just after the consumed line and nothing is read ahead.
///
/// Raw mode is entered only inside ``readLine(prompt:)`` and ``readPassword(prompt:)`` and left
/// before they return. The rejected alternative, raw mode for the whole session, would leave the
/// terminal raw while the program does other things — any crash or stray `print` outside the editor
/// would then misbehave. The terminal is also put back by ``restore()``, when the reading task is
/// cancelled, on SIGINT/SIGTERM/SIGHUP and at `exit` (see `TerminalRestorer`).
///
/// Reads block a dedicated thread (a serial `DispatchQueue` per editor), never Swift's cooperative
/// pool. One read runs at a time; a second concurrent call waits for the first. Cancelling the
/// calling task ends a read promptly with ``LineEditorEvent/endOfInput`` (or nil for a password).
///
/// Text passed to ``printAbove(_:)`` is written as given: sanitise peer-controlled text first with
/// ``displaySafe(_:)`` so a message cannot move the cursor or rewrite the screen.
///
/// ```swift
/// let editor = LineEditor()
/// let style = TerminalStyle.detect()
/// guard let password = await editor.readPassword(prompt: "Password: ") else { return }
/// // From the task that receives messages, at any time:
/// editor.printAbove(style.cyan("bob") + ": " + displaySafe(incomingText))
/// input: while true {
///     switch await editor.readLine(prompt: style.bold("> ")) {
///     case .line(let command): handle(command)
///     case .interrupt, .endOfInput: break input
///     }
/// }
/// ```
public final class LineEditor: Sendable {
    /// Whether input and output are both terminals, so the editor runs in raw mode with escape codes.
    public let isInteractive: Bool

    private let input: Int32
    private let output: Int32
    /// The input terminal's settings when the editor was made: what every read and ``restore()``
    /// return it to. Nil when input is not a terminal.
    private let originalMode: termios?
    private let identity: Int
    private let state = LockedValue(EditorState())
    private let wakePipe = WakePipe()
    private let readerQueue = DispatchQueue(label: "parley.terminal-io.reader")

    /// Creates an editor over two file descriptors (it does not take ownership of or close them).
    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) {
        self.input = input
        self.output = output
        let inputMode = isatty(input) == 1 ? TerminalMode.current(input) : nil
        self.originalMode = inputMode
        self.isInteractive = inputMode != nil && isatty(output) == 1
        self.identity = editorCounter.add(1, ordering: .relaxed).newValue
    }

    deinit {
        TerminalRestorer.unregister(owner: identity)
    }

    /// Shows `prompt` and reads one line.
    ///
    /// Returns ``LineEditorEvent/line(_:)`` on Enter (the line is added to the history unless it is
    /// blank or repeats the previous entry), ``LineEditorEvent/interrupt`` on Ctrl-C, and
    /// ``LineEditorEvent/endOfInput`` on Ctrl-D on an empty line, end of input, a terminal error,
    /// ``restore()`` or cancellation. The prompt may contain colour codes from ``TerminalStyle``;
    /// it should be narrower than the terminal. In line mode the prompt is not shown.
    public func readLine(prompt: String) async -> LineEditorEvent {
        switch await read(.line, prompt: prompt) {
        case .submitted(let line): return .line(line)
        case .interrupted: return .interrupt
        case .ended, .submittedPassword: return .endOfInput  // a line read never makes a password
        }
    }

    /// Shows `prompt` and reads a password without echoing it.
    ///
    /// On a terminal the input is read in raw mode (echo off) and only Backspace, Ctrl-U, Enter,
    /// Ctrl-C and Ctrl-D are honoured; the mode is restored on every path. When only the input is a
    /// terminal, echo is turned off for a canonical read. When input is not a terminal, one line is
    /// read as is. Outside interactive mode the prompt goes to standard error, so a redirected
    /// standard output carries no prompt noise.
    ///
    /// Returns nil on Ctrl-C, on Ctrl-D on an empty entry, at end of input, on ``restore()`` and on
    /// cancellation. Not added to the history. The returned `String` cannot be wiped: prefer
    /// ``readPassword(prompt:_:)``, which never makes one.
    public func readPassword(prompt: String) async -> String? {
        await readPassword(prompt: prompt) { String(decoding: $0, as: UTF8.self) }
    }

    /// Reads a password like ``readPassword(prompt:)`` and lends its UTF-8 bytes to `body` (copy
    /// them into a secret container there); returns `body`'s result, or nil when no password was
    /// entered.
    ///
    /// The password is typed into one fixed-size byte buffer (never a `String` or a growing array)
    /// and that buffer is wiped as soon as `body` returns, on every path.
    public func readPassword<Result>(prompt: String, _ body: (UnsafeRawBufferPointer) -> Result) async -> Result? {
        switch await read(.password, prompt: prompt) {
        case .submittedPassword(let password):
            defer { password.clear() }
            return password.withUnsafeBytes(body)
        case .submitted(let text):
            // Not produced for a password read; kept total rather than trapping.
            return Array(text.utf8).withUnsafeBytes(body)
        case .interrupted, .ended:
            return nil
        }
    }

    /// Prints `text` (which may span several lines) above the input line.
    ///
    /// Callable from any thread or task while a read is waiting: the input row is cleared, the text
    /// written, and the prompt and partially typed line redrawn with the cursor where it was. When no
    /// interactive read is in progress it writes `text` and a newline, nothing else. The write is
    /// blocking, as `print` is. Lines wider than the terminal are wrapped here, each wrapped part
    /// marked (``wrapForDisplay(_:columns:continuation:)``), so none can pass for a line of its own.
    public func printAbove(_ text: String) {
        let text = displayColumns(for: output).map { wrapForDisplay(text, columns: $0) } ?? text
        state.withLock { state in
            switch state.session {
            case .idle:
                FileDescriptorIO.send(text + "\n", to: output)
            case .editing, .password:
                FileDescriptorIO.send("\r\u{1B}[K" + text + "\n" + redraw(&state), to: output)
            }
        }
    }

    /// Puts the input terminal back into the mode it had when the editor was created, and ends a
    /// read in progress (it returns ``LineEditorEvent/endOfInput`` or nil). Idempotent; a later read
    /// switches to raw mode again. Does nothing when input is not a terminal.
    public func restore() {
        state.withLock { state in
            if let active = state.activeTicket { state.stoppedTickets.insert(active) }
            if let originalMode { TerminalMode.apply(originalMode, to: input) }
        }
        wakePipe.wake()
    }
}

/// Gives each editor a distinct owner id in the process-wide restorer.
private let editorCounter = Atomic<Int>(0)

// MARK: - Reading

extension LineEditor {
    enum ReadKind {
        case line
        case password
    }

    enum ReadOutcome: Equatable {
        case submitted(String)
        /// A password, handed over in the buffer it was typed into.
        case submittedPassword(PasswordBuffer)
        case interrupted
        case ended
    }

    /// Runs the blocking read on the reader queue and bridges it to async, wiring cancellation to a
    /// stop request. Each read gets a ticket so that a late cancellation of an earlier read cannot
    /// stop a later one.
    private func read(_ kind: ReadKind, prompt: String) async -> ReadOutcome {
        let ticket = state.withLock { state in
            state.nextTicket += 1
            return state.nextTicket
        }
        // The outcome (a password buffer made on the reader queue) comes back through a lock, not
        // as the continuation's value. Resuming a continuation from a Dispatch queue orders the
        // two threads inside the uninstrumented Swift runtime, which ThreadSanitizer did not
        // always see: `make tsan` reported the buffer's initialisation on the reader queue and its
        // use in the resumed task as a race (in the `parley` binary, via EndToEndTests). A lock's
        // unlock and lock are an ordering TSan sees; the cost is one lock per line read.
        let handoff = LockedValue<ReadOutcome?>(nil)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                readerQueue.async {
                    let outcome = self.blockingRead(kind, prompt: prompt, ticket: ticket)
                    handoff.withLock { $0 = outcome }
                    continuation.resume()
                }
            }
            return handoff.withLock { $0 } ?? .ended
        } onCancel: {
            state.withLock { state in _ = state.stoppedTickets.insert(ticket) }
            wakePipe.wake()
        }
    }

    private func blockingRead(_ kind: ReadKind, prompt: String, ticket: Int) -> ReadOutcome {
        let outcome: ReadOutcome
        if isInteractive, let originalMode, enterMode(TerminalMode.raw(from: originalMode)) {
            outcome = editInRawMode(kind, prompt: prompt, ticket: ticket)
        } else {
            outcome = readInLineMode(kind, prompt: prompt, ticket: ticket)
        }
        state.withLock { state in
            // Stops for this or any earlier read are spent; one for a later read must survive.
            state.stoppedTickets = state.stoppedTickets.filter { $0 > ticket }
        }
        return outcome
    }

    /// Registers the terminal for restoration, then switches it to `mode`.
    private func enterMode(_ mode: termios) -> Bool {
        guard let originalMode else { return false }
        TerminalRestorer.register(owner: identity, fd: input, original: originalMode)
        guard TerminalMode.apply(mode, to: input) else {
            TerminalRestorer.unregister(owner: identity)
            return false
        }
        return true
    }

    private func leaveMode() {
        if let originalMode { TerminalMode.apply(originalMode, to: input) }
        TerminalRestorer.unregister(owner: identity)
    }

    // MARK: Raw mode

    private func editInRawMode(_ kind: ReadKind, prompt: String, ticket: Int) -> ReadOutcome {
        state.withLock { state in
            state.session = kind == .line ? .editing(prompt: prompt) : .password(prompt: prompt)
            state.buffer.removeAll()
            state.password = kind == .password ? PasswordBuffer() : nil
            state.renderer.reset()
            state.navigation = HistoryNavigation()
            // A read stopped by `restore()` or cancellation may have left half an escape sequence.
            state.decoder.flush()
            state.activeTicket = ticket
            FileDescriptorIO.send(redraw(&state), to: output)
        }
        var chunk = [UInt8](repeating: 0, count: TerminalLimits.readChunkBytes)
        defer { chunk.withUnsafeMutableBytes { wipe($0) } }
        while true {
            let (finished, insideSequence) = state.withLock { state -> (ReadOutcome?, Bool) in
                if state.stoppedTickets.contains(ticket) { return (.ended, false) }
                return (consumeTypeahead(kind, &state), state.decoder.isInsideSequence)
            }
            if let finished { return finish(kind, finished) }

            let timeout: Int32 =
                insideSequence ? TerminalLimits.escapeTimeoutMilliseconds : (wakePipe.isAvailable ? -1 : 250)
            switch FileDescriptorIO.waitForInput(input, wake: wakePipe.readEnd, timeoutMilliseconds: timeout) {
            case .woken:
                wakePipe.drain()
            case .timedOut:
                // A lone ESC (or a sequence cut short): drop it so the next key decodes cleanly.
                if insideSequence { state.withLock { $0.decoder.flush() } }
            case .readable:
                let count = chunk.withUnsafeMutableBytes { FileDescriptorIO.readSome(input, into: $0) }
                guard let count else { continue }
                guard count > 0 else { return finish(kind, .ended) }  // hang-up or EOF
                state.withLock { $0.typeahead.append(contentsOf: chunk[..<count]) }
            }
        }
    }

    /// Feeds the bytes read so far to the decoder and applies the keys. Stops right after the key
    /// that ends the read, leaving the rest (a paste, keys typed ahead) for the next read.
    private func consumeTypeahead(_ kind: ReadKind, _ state: inout EditorState) -> ReadOutcome? {
        var consumed = 0
        var changed = false
        var outcome: ReadOutcome?
        for byte in state.typeahead {
            consumed += 1
            guard let key = state.decoder.feed(byte) else { continue }
            switch apply(key, kind, &state) {
            case .unchanged: break
            case .changed: changed = true
            case .finished(let result): outcome = result
            }
            if outcome != nil { break }
        }
        // The bytes may be a password: overwrite them before letting the array drop them.
        for index in 0..<consumed { state.typeahead[index] = 0 }
        state.typeahead.removeFirst(consumed)
        if outcome == nil, changed, kind == .line {
            FileDescriptorIO.send(redraw(&state), to: output)
        }
        return outcome
    }

    private enum KeyEffect {
        case unchanged
        case changed
        case finished(ReadOutcome)
    }

    private func apply(_ key: Key, _ kind: ReadKind, _ state: inout EditorState) -> KeyEffect {
        if kind == .password, let password = state.password {
            return applyToPassword(key, password, &state)
        }
        switch (key, kind) {
        case (.enter, _): return .finished(.submitted(state.buffer.text))
        case (.interrupt, _): return .finished(.interrupted)
        case (.endOfTransmission, _) where state.buffer.isEmpty: return .finished(.ended)
        case (.character(let character), _):
            return state.buffer.insert(character) ? .changed : .unchanged
        case (.backspace, _): state.buffer.backspace()
        case (.killToStart, .password), (.deleteWordBackward, .password): state.buffer.removeAll()
        case (_, .password): return .unchanged  // no cursor movement in a field nobody can see
        case (.endOfTransmission, .line), (.delete, .line): state.buffer.deleteForward()
        case (.left, .line): state.buffer.moveLeft()
        case (.right, .line): state.buffer.moveRight()
        case (.wordLeft, .line): state.buffer.moveWordLeft()
        case (.wordRight, .line): state.buffer.moveWordRight()
        case (.home, .line): state.buffer.moveHome()
        case (.end, .line): state.buffer.moveEnd()
        case (.killToStart, .line): state.buffer.killToStart()
        case (.killToEnd, .line): state.buffer.killToEnd()
        case (.deleteWordBackward, .line): state.buffer.deleteWordBackward()
        case (.redraw, .line): break
        case (.up, .line):
            guard let entry = state.navigation.older(in: state.history, current: state.buffer.text) else {
                return .unchanged
            }
            state.buffer.replace(with: entry)
        case (.down, .line):
            guard let entry = state.navigation.newer(in: state.history) else { return .unchanged }
            state.buffer.replace(with: entry)
        }
        return .changed
    }

    /// A password is edited as bytes, never as characters of a `String`.
    private func applyToPassword(_ key: Key, _ password: PasswordBuffer, _ state: inout EditorState) -> KeyEffect {
        switch key {
        case .enter:
            state.password = nil  // handed over; the caller wipes it
            return .finished(.submittedPassword(password))
        case .interrupt: return .finished(.interrupted)
        case .endOfTransmission where password.isEmpty: return .finished(.ended)
        case .character(let character): return password.append(character.utf8) ? .changed : .unchanged
        case .backspace: password.removeLastScalar()
        case .killToStart, .deleteWordBackward: password.clear()
        default: return .unchanged  // no cursor movement in a field nobody can see
        }
        return .changed
    }

    /// Leaves the line on screen as entered (scrolled to its end), moves to a new row, goes idle and
    /// restores the terminal, all under the lock so that `printAbove` never sees a half-finished read.
    private func finish(_ kind: ReadKind, _ outcome: ReadOutcome) -> ReadOutcome {
        state.withLock { state in
            var display = ""
            if case .line = kind {
                state.buffer.moveEnd()
                display = redraw(&state)
                if case .submitted(let line) = outcome { state.history.add(line) }
            }
            display += outcome == .interrupted ? "^C\r\n" : "\r\n"
            FileDescriptorIO.send(display, to: output)
            state.buffer.removeAll()
            state.password?.clear()
            state.password = nil
            state.session = .idle
            state.activeTicket = nil
            leaveMode()
        }
        return outcome
    }

    /// The bytes that draw the current session's row.
    private func redraw(_ state: inout EditorState) -> String {
        switch state.session {
        case .idle:
            return ""
        case .editing(let prompt):
            let columns = terminalSize(output)?.columns ?? TerminalLimits.defaultColumns
            return state.renderer.render(prompt: prompt, buffer: state.buffer, columns: columns)
        case .password(let prompt):
            return "\r" + prompt + "\u{1B}[K"
        }
    }

    // MARK: Line mode

    private func readInLineMode(_ kind: ReadKind, prompt: String, ticket: Int) -> ReadOutcome {
        guard kind == .password else { return readRawLine(ticket: ticket) }
        FileDescriptorIO.send(prompt, to: STDERR_FILENO)
        // A terminal on input with output redirected: the line discipline still echoes, so turn
        // that off for the password.
        guard let originalMode, enterMode(TerminalMode.noEcho(from: originalMode)) else {
            return readRawPassword(ticket: ticket)
        }
        defer { leaveMode() }
        return readRawPassword(ticket: ticket)
    }

    /// ``readRawLine(ticket:)`` for a password: the bytes go from the line buffer into a
    /// ``PasswordBuffer``, never into a `String`.
    private func readRawPassword(ticket: Int) -> ReadOutcome {
        let password = PasswordBuffer()
        let outcome = readRawLine(ticket: ticket) { line in
            password.append(line)
            password.dropTrailingCarriageReturn()
        }
        guard case .submitted = outcome else { return outcome }
        return .submittedPassword(password)
    }

    /// Reads up to a newline one byte at a time, so nothing past the line is taken from the
    /// descriptor. A final line without a newline still counts; a trailing CR is dropped. With
    /// `secret`, the line's bytes are lent to it (and the outcome's text is empty) instead.
    private func readRawLine(ticket: Int, secret: ((UnsafeRawBufferPointer) -> Void)? = nil) -> ReadOutcome {
        // Sized once, so appending never reallocates and leaves an unwiped copy behind.
        var line: [UInt8] = []
        line.reserveCapacity(TerminalLimits.maxLineBytes)
        func submit() -> ReadOutcome {
            guard let secret else { return .submitted(Self.decodeLine(line)) }
            line.withUnsafeBytes(secret)
            return .submitted("")
        }
        defer { line.withUnsafeMutableBytes { wipe($0) } }
        var byte: UInt8 = 0
        while true {
            if state.withLock({ $0.stoppedTickets.contains(ticket) }) { return .ended }
            let timeout: Int32 = wakePipe.isAvailable ? -1 : 250
            switch FileDescriptorIO.waitForInput(input, wake: wakePipe.readEnd, timeoutMilliseconds: timeout) {
            case .woken:
                wakePipe.drain()
                continue
            case .timedOut:
                continue
            case .readable:
                break
            }
            switch withUnsafeMutableBytes(of: &byte, { FileDescriptorIO.readSome(input, into: $0) }) {
            case nil:
                continue
            case 1?:
                if byte == UInt8(ascii: "\n") { return submit() }
                if line.count < TerminalLimits.maxLineBytes { line.append(byte) }
            default:
                return line.isEmpty ? .ended : submit()
            }
        }
    }

    private static func decodeLine(_ bytes: [UInt8]) -> String {
        let withoutCarriageReturn = bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes[...]
        return String(decoding: withoutCarriageReturn, as: UTF8.self)
    }
}

/// Overwrites bytes that may have held a password.
private func wipe(_ bytes: UnsafeMutableRawBufferPointer) {
    guard let base = bytes.baseAddress else { return }
    explicit_bzero(base, bytes.count)
}

/// Everything the reader thread and `printAbove` share, behind the editor's mutex.
struct EditorState {
    enum Session {
        case idle
        case editing(prompt: String)
        case password(prompt: String)
    }

    var session = Session.idle
    var buffer = EditBuffer()
    /// The password being typed, during a password read in raw mode.
    var password: PasswordBuffer?
    var renderer = LineRenderer()
    var history = LineHistory()
    var navigation = HistoryNavigation()
    var decoder = KeyDecoder()
    /// Bytes read from the terminal but not yet consumed: keys typed after Enter, the rest of a paste.
    var typeahead: [UInt8] = []
    var nextTicket = 0
    var activeTicket: Int?
    /// Reads asked to stop (by cancellation or `restore()`).
    var stoppedTickets: Set<Int> = []
}
