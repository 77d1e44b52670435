#if canImport(Glibc)
import Glibc
#endif
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

    @Test func displaySafeNeutralisesControlsButKeepsNewlines() {
        #expect(displaySafe("hi\nthere") == "hi\nthere")
        #expect(displaySafe("a\u{1B}[2Jb") == "a\u{FFFD}[2Jb")
        #expect(displaySafe("fake\rbob: pay me") == "fake\u{FFFD}bob: pay me")
        #expect(displaySafe("\u{9B}31m\u{202E}txt.exe\u{7}") == "\u{FFFD}31m\u{FFFD}txt.exe\u{FFFD}")
        #expect(displaySafe("tab\there héllo 👋") == "tab here héllo 👋")
    }
}
