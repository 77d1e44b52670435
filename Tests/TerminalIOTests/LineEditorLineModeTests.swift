#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import TerminalIO

/// The editor when input is a pipe: plain line reading, no escape codes, nothing read ahead.
@Suite(.timeLimit(.minutes(1)))
struct LineEditorLineModeTests {
    @Test func passwordThenLinesComeFromOnePipe() async throws {
        let input = try Pipe()
        let output = try Pipe()
        defer {
            input.close()
            output.close()
        }
        input.write("pw\nline1\nline2\n")
        input.closeWriteEnd()
        let editor = LineEditor(input: input.readEnd, output: output.writeEnd)
        #expect(!editor.isInteractive)

        #expect(await result(of: Task { await editor.readPassword(prompt: "") }) == "pw")
        #expect(await result(of: Task { await editor.readLine(prompt: "> ") }) == .line("line1"))
        #expect(await result(of: Task { await editor.readLine(prompt: "> ") }) == .line("line2"))
        #expect(await result(of: Task { await editor.readLine(prompt: "> ") }) == .endOfInput)
        #expect(await result(of: Task { await editor.readPassword(prompt: "") }) == .some(nil))
        #expect(output.drain().isEmpty)  // no prompt, no escape codes on output
    }

    /// Issue 10, finding 10: the password is lent as bytes (never made a `String`), CR dropped.
    @Test func passwordBytesAreLentWithoutTheLineEnding() async throws {
        let input = try Pipe()
        defer { input.close() }
        input.write("pässwörd\r\nnext\n")
        input.closeWriteEnd()
        let editor = LineEditor(input: input.readEnd, output: STDERR_FILENO)
        let bytes = await result(of: Task { await editor.readPassword(prompt: "") { Array($0) } })
        #expect(bytes == Array("pässwörd".utf8))
        #expect(await result(of: Task { await editor.readLine(prompt: "") }) == .line("next"))
        #expect(await result(of: Task { await editor.readPassword(prompt: "") { Array($0) } }) == .some(nil))
    }

    @Test func aPasswordBufferEditsBytesAndWipesWhenCleared() {
        let password = PasswordBuffer(capacity: 8)
        #expect(password.append(Array("aé".utf8)))
        #expect(!password.append(Array("123456".utf8)))  // does not fit: nothing appended
        password.removeLastScalar()  // the two bytes of é
        #expect(password.withUnsafeBytes { Array($0) } == Array("a".utf8))
        password.append(Array("b\r".utf8))
        password.dropTrailingCarriageReturn()
        #expect(password.withUnsafeBytes { Array($0) } == Array("ab".utf8))
        password.clear()
        #expect(password.isEmpty && password.withUnsafeBytes { $0.isEmpty })
    }

    @Test func nothingPastTheLineIsReadFromTheDescriptor() async throws {
        let input = try Pipe()
        defer { input.close() }
        input.write("pw\nrest of input\n")
        input.closeWriteEnd()
        let editor = LineEditor(input: input.readEnd, output: STDERR_FILENO)

        #expect(await result(of: Task { await editor.readPassword(prompt: "") }) == "pw")
        #expect(input.drain() == "rest of input\n")
    }

    @Test func carriageReturnsAreDroppedAndALastLineNeedsNoNewline() async throws {
        let input = try Pipe()
        defer { input.close() }
        input.write("dos\r\nlast")
        input.closeWriteEnd()
        let editor = LineEditor(input: input.readEnd, output: STDERR_FILENO)

        #expect(await result(of: Task { await editor.readLine(prompt: "") }) == .line("dos"))
        #expect(await result(of: Task { await editor.readLine(prompt: "") }) == .line("last"))
        #expect(await result(of: Task { await editor.readLine(prompt: "") }) == .endOfInput)
    }

    @Test func printAboveWritesTheTextAndANewlineOnly() throws {
        let input = try Pipe()
        let output = try Pipe()
        defer {
            input.close()
            output.close()
        }
        let editor = LineEditor(input: input.readEnd, output: output.writeEnd)
        editor.printAbove("alice: hello")
        #expect(output.drain() == "alice: hello\n")
    }

    @Test func cancellationEndsAReadWaitingOnAnOpenPipe() async throws {
        let input = try Pipe()
        defer { input.close() }
        let editor = LineEditor(input: input.readEnd, output: STDERR_FILENO)
        let read = Task { await editor.readLine(prompt: "") }
        // Wait until the read is really waiting on the pipe: it has consumed a partial line (the
        // pipe is empty again) and has no newline yet. A fixed sleep could cancel before it began.
        input.write("partial")
        let deadline = ContinuousClock.now + .seconds(10)
        while input.unreadByteCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(input.unreadByteCount == 0)
        read.cancel()
        #expect(await result(of: read) == .endOfInput)

        // The spent stop does not end the next read.
        input.write("next\n")
        #expect(await result(of: Task { await editor.readLine(prompt: "") }) == .line("next"))
    }
}
