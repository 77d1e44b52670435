import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The built `parley` run with no command (the interactive session) in its own pseudo-terminal,
/// as a person would run it. Everything it draws collects in ``terminal``'s transcript.
final class InteractiveClient: @unchecked Sendable {
    let user: String
    let terminal: PseudoTerminal
    private let process: Process

    /// Starts `parley --server … --home … --user USER` (plus `arguments`). Colours are off
    /// (`NO_COLOR`) so that a line can be searched for as the person reads it.
    init(_ user: String, in world: World, arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.user = user
        terminal = try PseudoTerminal()
        process = Process()
        process.executableURL = Binaries.parley
        process.arguments = ["--server", "127.0.0.1:\(world.server.port)", "--home", world.home(user), "--user", user] + arguments
        var env = ProcessInfo.processInfo.environment
        env["TERM"] = "xterm-256color"
        env["NO_COLOR"] = "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let slave = FileHandle(fileDescriptor: terminal.slave, closeOnDealloc: false)
        process.standardInput = slave
        process.standardOutput = slave
        process.standardError = slave
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var transcript: String { terminal.transcript }

    /// Waits for the password prompt, types the password and waits until logged in (bounded).
    func logIn(password: String? = nil) async throws {
        try await terminal.read(until: "Password for \(user)")
        terminal.type((password ?? "\(user)-password-123") + "\r")
        try await terminal.read(until: "Logged in as \(user)")
    }

    /// Types a line and presses Enter.
    func type(line: String) {
        terminal.type(line + "\r")
    }

    /// Reads until `needle` appears after `start` (bounded).
    @discardableResult
    func read(until needle: String, from start: String.Index? = nil, timeout: Duration = .seconds(20)) async throws -> String {
        try await terminal.read(until: needle, from: start, timeout: timeout)
    }

    /// Leaves with Ctrl-D and waits for the exit (bounded); SIGKILL by PID if it does not leave.
    /// Returns the exit status, or nil when it had to be killed.
    @discardableResult
    func quit(timeout: Duration = .seconds(15)) async throws -> Int32? {
        // Stretched under the sanitizers: a sanitized `parley` took over 15 s to leave on the
        // loaded 2-core machine (`make asan`), and over 60 s after typing a batch of 25 lines it
        // still had to send (`make tsan`, load average 17).
        let timeout = ProcessInfo.processInfo.environment["PARLEY_SANITIZER"] == nil ? timeout : timeout * 10
        if process.isRunning {
            terminal.type("\u{15}\u{04}")  // Ctrl-U clears the line, Ctrl-D on an empty line leaves
        }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            terminal.drain()  // a full terminal would block the child's last writes
            try await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
