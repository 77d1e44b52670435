#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@testable import TerminalIO

/// Restoration on the paths that end the process — a terminating signal and `exit` — while a read
/// holds the terminal in raw mode. These need a second process: the test binary runs itself with
/// only ``helperProcess()`` selected and the pseudo-terminal as its standard input and output.
@Suite(.timeLimit(.minutes(1)))
struct TerminalRestorationProcessTests {
    private static let helperVariable = "PARLEY_TERMINAL_IO_HELPER"

    /// The child's side. Without the environment variable (every normal run) it does nothing.
    @Test func helperProcess() async throws {
        guard let scenario = ProcessInfo.processInfo.environment[Self.helperVariable] else { return }
        let editor = LineEditor()
        switch scenario {
        case "exit":
            // Exit from elsewhere while the read is waiting in raw mode: only `atexit` can help.
            Thread.detachNewThread {
                usleep(300_000)
                exit(0)
            }
            _ = await editor.readLine(prompt: "child> ")
        default:
            _ = await editor.readLine(prompt: "child> ")  // the parent sends a signal
        }
    }

    private func runHelper(_ scenario: String, on terminal: PseudoTerminal) throws -> Process {
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["--testing-library", "swift-testing", "--filter", "helperProcess"]
        process.environment = ProcessInfo.processInfo.environment.merging([Self.helperVariable: scenario]) { $1 }
        let terminalHandle = FileHandle(fileDescriptor: terminal.slave, closeOnDealloc: false)
        process.standardInput = terminalHandle
        process.standardOutput = terminalHandle
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    private func waitForExit(_ process: Process, seconds: Double = 20) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning { process.terminate() }
        return !process.isRunning
    }

    @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
    func aTerminatingSignalRestoresTheTerminalAndStillTerminates(signal: Int32) async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let original = terminal.mode()
        let process = try runHelper("signal", on: terminal)

        #expect(await terminal.waitForScreen(seconds: 30) { $0.currentLine == "child> " })
        #expect(!hasFlag(terminal.mode(), local: ECHO))  // the child is reading in raw mode
        kill(process.processIdentifier, signal)

        #expect(await waitForExit(process))
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == signal)
        #expect(sameMode(terminal.mode(), original))
    }

    @Test func exitDuringAReadRestoresTheTerminal() async throws {
        let terminal = try PseudoTerminal()
        defer { terminal.close() }
        let original = terminal.mode()
        let process = try runHelper("exit", on: terminal)

        #expect(await terminal.waitForScreen(seconds: 30) { $0.currentLine == "child> " })
        #expect(await waitForExit(process))
        #expect(process.terminationReason == .exit)
        #expect(sameMode(terminal.mode(), original))
    }
}
