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
    /// The file whose appearance tells the "exit" child to exit (the parent creates it once it has
    /// seen the terminal in raw mode).
    private static let exitSignalVariable = "PARLEY_TERMINAL_IO_EXIT_WHEN"

    /// The child's side. Not a test of its own: in every normal run it is reported as skipped.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PARLEY_TERMINAL_IO_HELPER"] != nil, "runs only as the child of the restoration tests"))
    func helperProcess() async throws {
        let scenario = try #require(ProcessInfo.processInfo.environment[Self.helperVariable])
        let editor = LineEditor()
        switch scenario {
        case "exit":
            // Exit from elsewhere while the read is waiting in raw mode: only `atexit` can help.
            // When is the parent's call, not a guess: it creates the file after checking raw mode.
            let signalFile = try #require(ProcessInfo.processInfo.environment[Self.exitSignalVariable])
            Thread.detachNewThread {
                while !FileManager.default.fileExists(atPath: signalFile) { usleep(5_000) }
                exit(0)
            }
            _ = await editor.readLine(prompt: "child> ")
        default:
            _ = await editor.readLine(prompt: "child> ")  // the parent sends a signal
        }
    }

    private func runHelper(_ scenario: String, on terminal: PseudoTerminal, environment extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["--testing-library", "swift-testing", "--filter", "helperProcess"]
        process.environment = ProcessInfo.processInfo.environment.merging([Self.helperVariable: scenario]) { $1 }.merging(extra) { $1 }
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
        guard !process.isRunning else { return false }
        // Foundation's Process and its run loop source hold each other until waitUntilExit()
        // drops the source (LeakSanitizer reported every Process never waited for); the child
        // has exited, so this returns at once.
        process.waitUntilExit()
        return true
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
        #expect(hasFlag(original, local: ECHO))
        let signalFile = NSTemporaryDirectory() + "parley-exit-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: signalFile) }
        let process = try runHelper("exit", on: terminal, environment: [Self.exitSignalVariable: signalFile])

        #expect(await terminal.waitForScreen(seconds: 30) { $0.currentLine == "child> " })
        // The read really holds the terminal in raw mode before the exit, so the restoration
        // below is the `atexit` handler's doing.
        #expect(!hasFlag(terminal.mode(), local: ECHO))
        #expect(!hasFlag(terminal.mode(), local: ICANON))
        #expect(FileManager.default.createFile(atPath: signalFile, contents: Data()))
        #expect(await waitForExit(process))
        #expect(process.terminationReason == .exit)
        #expect(sameMode(terminal.mode(), original))
    }
}
