#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@testable import TerminalIO

@Suite struct TerminalStyleTests {
    @Test func aTerminalGetsColour() throws {
        let terminal = try PseudoTerminal(columns: 100)
        defer { terminal.close() }
        let style = TerminalStyle.detect(output: terminal.slave, environment: ["TERM": "xterm-256color"])
        #expect(style.isColorEnabled)
        #expect(style.red("x") == "\u{1B}[31mx\u{1B}[39m")
        #expect(style.bold(style.green("ok")) == "\u{1B}[1m\u{1B}[32mok\u{1B}[39m\u{1B}[22m")
        #expect(style.width == 100)
        #expect(terminalSize(terminal.slave)?.columns == 100)
        #expect(TerminalStyle.detect(output: terminal.slave, environment: ["NO_COLOR": ""]).isColorEnabled)
    }

    @Test func noColorOrADumbTerminalMeansPlainText() throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        for environment in [["NO_COLOR": "1"], ["TERM": "dumb"]] {
            let style = TerminalStyle.detect(output: terminal.slave, environment: environment)
            #expect(!style.isColorEnabled)
            for paint in [style.bold, style.dim, style.red, style.green, style.yellow, style.cyan, style.magenta] {
                #expect(paint("plain") == "plain")
            }
        }
    }

    @Test func aPipeIsPlainAndEightyColumns() throws {
        let pipe = try Pipe()
        defer { pipe.close() }
        let style = TerminalStyle.detect(output: pipe.writeEnd, environment: [:])
        #expect(!style.isColorEnabled)
        #expect(style.cyan("plain") == "plain")
        #expect(style.width == 80)
        #expect(terminalSize(pipe.writeEnd) == nil)
    }

    @Test func displaySafeNeutralisesControls() {
        #expect(displaySafe("a\u{1B}[2Jb") == "a\u{FFFD}[2Jb")
        #expect(displaySafe("fake\rbob: pay me") == "fake\u{FFFD}bob: pay me")
        #expect(displaySafe("\u{9B}31m\u{202E}txt.exe\u{7}") == "\u{FFFD}31m\u{FFFD}txt.exe\u{FFFD}")
        #expect(displaySafe("tab\there héllo 👋") == "tab here héllo 👋")
    }

    /// Issue 10, finding 9: a newline (or any Unicode line break) in a message could print a second
    /// line that looked exactly like someone else's message.
    @Test func everyContinuationLineIsMarkedSoItCannotPassForAMessageLine() {
        let forged = "2026-12-01 06:16 alice: send me your password"
        let marker = displayContinuationMarker
        #expect(displaySafe("hello\n" + forged) == "hello\n" + marker + forged)
        #expect(displaySafe("hello\r\n" + forged) == "hello\n" + marker + forged)
        for lineBreak in ["\u{2028}", "\u{2029}", "\u{85}"] {
            #expect(displaySafe("hello" + lineBreak + forged) == "hello\n" + marker + forged)
        }
        #expect(displaySafe("a\n\nb", continuation: "> ") == "a\n> \n> b")
        for line in displaySafe("x\ny\u{2028}z\u{2029}w\u{85}v").split(separator: "\n").dropFirst() {
            #expect(line.hasPrefix(marker))
        }
    }

    @Test func displaySafeLineKeepsUntrustedTextOnOneLine() {
        #expect(displaySafeLine("bad\nLogged in. Verified.") == "bad\u{FFFD}Logged in. Verified.")
        #expect(displaySafeLine("\u{1B}]0;pwned\u{7}\u{1B}[2J\u{2028}x") == "\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}[2J\u{FFFD}x")
    }

    @Test func terminalSafeJSONEscapesWhatEncodersLeaveRawAndDecodesTheSame() throws {
        let text = "a\u{85}b\u{9B}31mc\u{2028}d\u{2029}e\u{202E}f\u{7F}g\u{1B}h\n"
        let encoded = String(decoding: try JSONEncoder().encode(["text": text]), as: UTF8.self)
        let safe = terminalSafeJSON(encoded)
        #expect(safe.unicodeScalars.allSatisfy { !(0x00...0x1F).contains($0.value) && !(0x7F...0x9F).contains($0.value) })
        #expect(!safe.contains("\u{2028}") && !safe.contains("\u{2029}") && !safe.contains("\u{202E}"))
        #expect(try JSONDecoder().decode([String: String].self, from: Data(safe.utf8)) == ["text": text])
    }
}

/// Issue 10, finding 9: a line wider than the terminal is wrapped by the client, every wrapped part
/// marked, so that padding a message to the window's width cannot start a row with a forged line.
@Suite struct DisplayWrapTests {
    let marker = displayContinuationMarker

    @Test func aLineWiderThanTheColumnsIsCutWithEveryPartMarked() {
        #expect(wrapForDisplay("abcdefghij", columns: 10) == "abcdefghij")
        #expect(wrapForDisplay("abcdefghijk", columns: 10) == "abcdefghij\n" + marker + "k")
        let wrapped = wrapForDisplay(String(repeating: "x", count: 30), columns: 10)
        #expect(wrapped == "xxxxxxxxxx\n\(marker)xxxxxx\n\(marker)xxxxxx\n\(marker)xxxxxx\n\(marker)xx")
        #expect(wrapForDisplay("short\nline two", columns: 6) == "short\nline t\n\(marker)wo")
    }

    @Test func padsToTheWidthCannotPutAForgedLineAtTheLeftMargin() {
        let forged = "2026-12-01 06:16 alice: send me your password"
        for columns in [40, 80, 100, 132] {
            for padding in 0..<columns {
                let line = "2026-12-01 06:17 mallory: " + String(repeating: " ", count: padding) + forged
                for row in wrapForDisplay(line, columns: columns).split(separator: "\n").dropFirst() {
                    #expect(row.hasPrefix(marker), "columns \(columns), padding \(padding)")
                    #expect(row.count <= columns)
                }
            }
        }
    }

    @Test func escapeSequencesTakeNoColumnsAndAreNeverSplit() {
        let red = "\u{1B}[31m", reset = "\u{1B}[0m"
        let line = red + "abcdef" + reset + "gh"
        #expect(wrapForDisplay(line, columns: 8) == line)
        #expect(wrapForDisplay(line, columns: 6) == red + "abcdef" + reset + "\n" + marker + "gh")
    }

    @Test func aWideCharacterMovesToTheNextRowWhole() {
        // Seven columns: "abcde" then 漢 (two columns) does not fit in the last column left.
        #expect(wrapForDisplay("abcdef漢", columns: 7) == "abcdef\n" + marker + "漢")
        #expect(wrapForDisplay("ab👋", columns: 6) == "ab👋")
    }

    @Test func tooNarrowForAMarkedRowLeavesTheTextAsItIs() {
        #expect(wrapForDisplay("abcdefgh", columns: 5) == "abcdefgh")
    }
}
