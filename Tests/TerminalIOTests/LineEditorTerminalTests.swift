#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@testable import TerminalIO

/// The editor driven through a pseudo-terminal: keystrokes go in at the master side, and what the
/// editor draws is replayed on a small terminal emulator (`Screen`).
@Suite(.timeLimit(.minutes(1)))
struct LineEditorTerminalTests {
    let prompt = "prompt> "

    private func startReading(_ editor: LineEditor, prompt: String? = nil) -> Task<LineEditorEvent, Never> {
        let prompt = prompt ?? self.prompt
        return Task { await editor.readLine(prompt: prompt) }
    }

    @Test func typingBackspaceAndInsertionAfterLeftEditTheLine() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        #expect(editor.isInteractive)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("hello")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> hello" && $0.column == 13 })
        terminal.type("\u{7F}")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> hell" && $0.column == 12 })
        terminal.type("\u{1B}[D\u{1B}[DX")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> heXll" && $0.column == 11 })
        terminal.type("\r")

        #expect(await result(of: read) == .line("heXll"))
        // The line stays on screen and the cursor moves to a fresh row. (Waits, because the pty
        // reader may not have drained the final newline yet when `readLine` returns.)
        #expect(
            await terminal.waitForScreen { screen in
                screen.lines.contains("prompt> heXll") && screen.column == 0 && screen.currentLine.isEmpty
            })
    }

    @Test func killKeysDeleteWordsAndLineParts() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("one two three\u{17}")  // Ctrl-W
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> one two " })
        terminal.type("\u{01}\u{1B}[C\u{1B}[C\u{1B}[C\u{0B}")  // Ctrl-A, Right x3, Ctrl-K
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> one" && $0.column == 11 })
        terminal.type("\u{15}d")  // Ctrl-U, then "d"
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> d" })
        terminal.type("\u{1B}[H>\u{05}<\r")  // Home, ">", Ctrl-E, "<"
        #expect(await result(of: read) == .line(">d<"))
    }

    @Test func multiByteCharactersArriveSplitAndEditAsOneCharacter() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("héllo 👋", byteByByte: true)
        // "héllo " is six columns and the emoji two: the cursor stands at 8 + 8.
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> héllo 👋" && $0.column == 16 })
        terminal.type("\u{7F}")  // one Backspace removes the whole emoji
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> héllo " && $0.column == 14 })
        terminal.type("👋\r")
        #expect(await result(of: read) == .line("héllo 👋"))
    }

    @Test func upAndDownWalkTheHistoryAndRestoreTheDraft() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        for line in ["first", "second", "second"] {
            let read = startReading(editor)
            #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
            terminal.type(line + "\r")
            #expect(await result(of: read) == .line(line))
        }

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("dr")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> dr" })
        terminal.type("\u{1B}[A")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> second" })
        terminal.type("\u{1B}[A")  // the repeated "second" was stored once
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> first" })
        terminal.type("\u{1B}[B\u{1B}[B")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> dr" && $0.column == 10 })
        terminal.type("\u{1B}OA\r")  // SS3 form of Up, as in application cursor mode
        #expect(await result(of: read) == .line("second"))
    }

    @Test func ctrlCInterruptsAndCtrlDEndsOnlyAnEmptyLine() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let original = terminal.mode()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let interrupted = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("draft\u{03}")
        #expect(await result(of: interrupted) == .interrupt)
        #expect(await terminal.waitForScreen { $0.lines.contains("prompt> draft^C") })

        let ended = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("ab\u{02}\u{04}")  // Ctrl-B, then Ctrl-D deletes the "b" under the cursor
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> a" })
        terminal.type("\u{15}\u{04}")  // Ctrl-U empties the line; now Ctrl-D means end of input
        #expect(await result(of: ended) == .endOfInput)
        #expect(sameMode(terminal.mode(), original))
    }

    @Test func printAboveKeepsThePartialLineBelowTheMessage() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("abc\u{1B}[D")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> abc" && $0.column == 10 })

        editor.printAbove("bob: hi there\nsecond line")
        #expect(
            await terminal.waitForScreen { screen in
                screen.row >= 2 && screen.text(ofRow: screen.row - 2) == "bob: hi there"
                    && screen.text(ofRow: screen.row - 1) == "second line"
                    && screen.currentLine == "prompt> abc" && screen.column == 10
            })
        #expect(!terminal.screen().lines.contains { $0.contains("bob") && $0.contains("prompt") })

        terminal.type("X\r")
        #expect(await result(of: read) == .line("abXc"))
    }

    @Test func printAboveFromManyTasksWhileTypingGarblesNothing() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask { editor.printAbove("message \(index)") }
            }
            group.addTask { terminal.type("typed while busy", byteByByte: true) }
        }
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> typed while busy" })
        let lines = terminal.screen().lines
        for index in 0..<20 {
            #expect(lines.contains("message \(index)"))
        }
        terminal.type("\r")
        #expect(await result(of: read) == .line("typed while busy"))
    }

    @Test func passwordIsNeitherEchoedNorLeftWithEchoOff() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let original = terminal.mode()
        #expect(hasFlag(original, local: ECHO))
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = Task { await editor.readPassword(prompt: "Password: ") }
        #expect(await terminal.waitForScreen { $0.currentLine == "Password: " })
        #expect(!hasFlag(terminal.mode(), local: ECHO))
        terminal.type("s3cret\u{7F}T\r")
        #expect(await result(of: read) == "s3creT")
        #expect(await terminal.waitForScreen { $0.lines.contains("Password: ") && $0.currentLine.isEmpty })
        #expect(!terminal.outputText.contains("s3cre"))
        #expect(hasFlag(terminal.mode(), local: ECHO))
        #expect(sameMode(terminal.mode(), original))

        let interrupted = Task { await editor.readPassword(prompt: "Password: ") }
        #expect(await terminal.waitForScreen { $0.currentLine == "Password: " })
        terminal.type("abc\u{03}")
        #expect(await result(of: interrupted) == .some(nil))
        #expect(sameMode(terminal.mode(), original))
    }

    /// Issue 10, finding 10: in raw mode the password is typed into a byte buffer; Backspace
    /// removes a whole multi-byte character and Ctrl-U wipes everything typed so far.
    @Test func passwordBytesAreEditedInRawMode() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        let read = Task { await editor.readPassword(prompt: "Password: ") { Array($0) } }
        #expect(await terminal.waitForScreen { $0.currentLine == "Password: " })
        terminal.type("wrong\u{15}pä\u{7F}ß\r")
        #expect(await result(of: read) == Array("pß".utf8))
    }

    @Test func restoreEndsTheReadAndPutsTheOriginalModeBack() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let original = terminal.mode()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        #expect(!hasFlag(terminal.mode(), local: ICANON))
        #expect(!hasFlag(terminal.mode(), local: ECHO))
        editor.restore()
        #expect(await result(of: read) == .endOfInput)
        #expect(sameMode(terminal.mode(), original))
        editor.restore()  // idempotent
        #expect(sameMode(terminal.mode(), original))

        // A later read works again.
        let again = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("ok\r")
        #expect(await result(of: again) == .line("ok"))
        #expect(sameMode(terminal.mode(), original))
    }

    @Test func cancellingTheReadingTaskRestoresTheTerminal() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let original = terminal.mode()
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("half")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> half" })
        read.cancel()
        #expect(await result(of: read) == .endOfInput)
        #expect(sameMode(terminal.mode(), original))
    }

    @Test func unknownEscapeSequencesAndALoneEscapeAreIgnored() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let read = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        // F5, F1 (SS3), Shift-F3 with modifiers, Insert, an over-long CSI, then "c".
        terminal.type("ab\u{1B}[15~\u{1B}OP\u{1B}[1;2R\u{1B}[2~\u{1B}[1;2;3;4;5;6;7;8;9;10;11;12q" + "c")
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> abc" && $0.column == 11 })
        terminal.type("\u{1B}")  // a bare Escape press
        try await Task.sleep(for: .milliseconds(200))
        terminal.type("d\r")  // not taken as Alt-d
        #expect(await result(of: read) == .line("abcd"))
    }

    @Test func aLongLineScrollsSidewaysWithinOneRow() async throws {
        let terminal = try PseudoTerminal(columns: 20)
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)
        let line = "abcdefghijklmnopqrstuvwxyz0123"

        let read = startReading(editor, prompt: "> ")
        #expect(await terminal.waitForScreen(columns: 20) { $0.currentLine == "> " })
        terminal.type(line)
        // 17 columns for text (20, less the prompt, less the last column), cursor at the end.
        #expect(
            await terminal.waitForScreen(columns: 20) { $0.currentLine == "> nopqrstuvwxyz0123" && $0.column == 19 })
        terminal.type("\u{01}")
        #expect(
            await terminal.waitForScreen(columns: 20) { $0.currentLine == "> abcdefghijklmnopq" && $0.column == 2 })
        #expect(!terminal.screen(columns: 20).wrapped)
        terminal.type("\r")
        #expect(await result(of: read) == .line(line))
    }

    @Test func keysTypedAheadOfTheNextReadAreKept() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let editor = LineEditor(input: terminal.slave, output: terminal.slave)

        let first = startReading(editor)
        #expect(await terminal.waitForScreen { $0.currentLine == "prompt> " })
        terminal.type("one\r\ntwo\r")  // a paste: CR LF counts as one Enter
        #expect(await result(of: first) == .line("one"))
        #expect(await result(of: startReading(editor)) == .line("two"))
    }

    @Test func passwordOnATerminalWithRedirectedOutputTurnsEchoOff() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let output = try Pipe()
        defer { output.close() }
        let original = terminal.mode()
        let editor = LineEditor(input: terminal.slave, output: output.writeEnd)
        #expect(!editor.isInteractive)

        let read = Task { await editor.readPassword(prompt: "") }
        // Wait until echo is off before typing, or the line discipline would echo the password.
        let deadline = Date().addingTimeInterval(10)
        while hasFlag(terminal.mode(), local: ECHO), Date() < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        terminal.type("hunter2\n")
        #expect(await result(of: read) == "hunter2")
        #expect(!terminal.outputText.contains("hunter2"))
        #expect(sameMode(terminal.mode(), original))
        #expect(output.drain().isEmpty)
    }
}
