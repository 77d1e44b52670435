import Foundation
import Primitives
#if canImport(Glibc)
import Glibc
#endif

/// Finds the built `parley` and `parley-server` binaries: beside this test bundle (SwiftPM puts
/// products and the test runner in one folder), else in the package's `.build/debug`.
enum Binaries {
    static let folder: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: beside.appendingPathComponent("parley").path) { return beside }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return packageRoot.appendingPathComponent(".build/debug")
    }()

    static var parley: URL { folder.appendingPathComponent("parley") }
    static var server: URL { folder.appendingPathComponent("parley-server") }
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
}

/// Collects a pipe's output on a background thread.
final class OutputCollector: Sendable {
    private let buffer = LockedValue(Data())
    private let done = LockedValue(false)

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.withLock { $0.append(chunk) }
            }
            done.withLock { $0 = true }
        }
        thread.start()
    }

    var text: String { String(decoding: buffer.withLock { $0 }, as: UTF8.self) }
    var finished: Bool { done.withLock { $0 } }
}

/// Result of one client run.
struct RunResult: CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String
    var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

/// Runs `executable` with `arguments`, feeding `input` on stdin, bounded by `timeout`.
func run(_ executable: URL, _ arguments: [String], input: String = "", environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> RunResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["NO_COLOR"] = "1"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    let out = OutputCollector(stdout.fileHandleForReading)
    let err = OutputCollector(stderr.fileHandleForReading)
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try? stdin.fileHandleForWriting.close()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now > deadline {
            process.terminate()
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw HarnessError(description: "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) did not finish within \(timeout)\n\(out.text)\n\(err.text)")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    process.waitUntilExit()
    let drainDeadline = ContinuousClock.now + .seconds(5)
    while !(out.finished && err.finished), ContinuousClock.now < drainDeadline { try await Task.sleep(for: .milliseconds(5)) }
    return RunResult(status: process.terminationStatus, stdout: out.text, stderr: err.text)
}

/// A real `parley-server` on 127.0.0.1 with a temporary data directory.
final class ServerProcess: @unchecked Sendable {
    let dataDirectory: URL
    private(set) var port = 0
    /// The server's static public key in hex, from its "listening" line.
    private(set) var keyHex = ""
    private var process: Process?
    private var log: OutputCollector?

    init(dataDirectory: URL) {
        self.dataDirectory = dataDirectory
    }

    var logText: String { log?.text ?? "" }

    /// Starts the server and waits for its "listening" line (bounded).
    func start(port requested: Int = 0) async throws {
        let process = Process()
        process.executableURL = Binaries.server
        // Every command of a test logs in from 127.0.0.1: the per-address login limit has tests of
        // its own (ApplicationTests).
        process.arguments = [
            "--host", "127.0.0.1", "--port", "\(requested == 0 ? (port == 0 ? 0 : port) : requested)", "--data-dir", dataDirectory.path,
            "--logins-per-address", "100000",
        ]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        let log = OutputCollector(stderr.fileHandleForReading)
        self.log = log
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let line = log.text.split(separator: "\n").first(where: { $0.contains("listening") }),
               let range = line.range(of: "address=127.0.0.1:") {
                let digits = line[range.upperBound...].prefix { $0.isNumber }
                if let bound = Int(digits) {
                    port = bound
                    if let keyRange = line.range(of: "key=") { keyHex = String(line[keyRange.upperBound...].prefix { $0.isHexDigit }) }
                    return
                }
            }
            if !process.isRunning { throw HarnessError(description: "parley-server exited early:\n\(log.text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop(signal: SIGKILL)
        throw HarnessError(description: "parley-server did not start listening:\n\(log.text)")
    }

    /// Sends `signal` and waits for the process to exit (bounded); returns its status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let process else { return 0 }
        defer { self.process = nil }
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A temporary world: one server, any number of client homes, cleaned up afterwards.
final class World: @unchecked Sendable {
    let root: URL
    let server: ServerProcess

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        server = ServerProcess(dataDirectory: root.appendingPathComponent("server"))
    }

    deinit {
        server.stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: root)
    }

    func home(_ user: String) -> String { root.appendingPathComponent("home-\(user)").path }

    /// Runs `parley` as `user` with the password on stdin.
    func parley(_ user: String, _ arguments: [String], password: String? = nil, home: String? = nil, environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> RunResult {
        let common = ["--server", "127.0.0.1:\(server.port)", "--home", home ?? self.home(user), "--user", user, "--password-stdin"]
        return try await run(Binaries.parley, common + arguments, input: (password ?? "\(user)-password-123") + "\n", environment: environment, timeout: timeout)
    }

    /// Registers `user` and fails loudly if it did not work.
    func register(_ user: String, home: String? = nil) async throws {
        let result = try await parley(user, ["register", user], home: home)
        guard result.status == 0 else { throw HarnessError(description: "register \(user) failed: \(result)") }
    }
}

/// A `parley` command left running, for tests that interrupt it (SIGKILL in the middle of work).
final class RunningCommand: @unchecked Sendable {
    private let process: Process
    private let stdout: OutputCollector
    private let stderr: OutputCollector
    let description: String

    init(_ executable: URL, _ arguments: [String], input: String, environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stdin = Pipe(), out = Pipe(), err = Pipe()
        process.standardInput = stdin
        process.standardOutput = out
        process.standardError = err
        try process.run()
        stdout = OutputCollector(out.fileHandleForReading)
        stderr = OutputCollector(err.fileHandleForReading)
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try? stdin.fileHandleForWriting.close()
        description = "\(executable.lastPathComponent) \(arguments.joined(separator: " "))"
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Sends `signal` to this process (by its PID only).
    func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the exit (bounded; SIGKILL by PID after `timeout`) and returns what it printed.
    func finish(timeout: Duration = .seconds(60)) async throws -> RunResult {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let timedOut = process.isRunning
        if timedOut { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let drainDeadline = ContinuousClock.now + .seconds(5)
        while !(stdout.finished && stderr.finished), ContinuousClock.now < drainDeadline { try await Task.sleep(for: .milliseconds(5)) }
        let result = RunResult(status: process.terminationStatus, stdout: stdout.text, stderr: stderr.text)
        if timedOut { throw HarnessError(description: "\(description) did not finish within \(timeout)\n\(result)") }
        return result
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

extension World {
    /// Starts `parley` as `user` (password on stdin) and leaves it running.
    func start(_ user: String, _ arguments: [String], home: String? = nil, environment: [String: String] = [:]) throws -> RunningCommand {
        let common = ["--server", "127.0.0.1:\(server.port)", "--home", home ?? self.home(user), "--user", user, "--password-stdin"]
        return try RunningCommand(Binaries.parley, common + arguments, input: "\(user)-password-123\n", environment: environment)
    }

    /// The folder of `user`'s local data under `home`: named after the server's key, not its
    /// address (the nodes of one cluster share it).
    func accountFolder(_ user: String, home: String? = nil) -> String {
        (home ?? self.home(user)) + "/server-\(server.keyHex)/\(user)"
    }

    /// The path of `user`'s client database under `home`.
    func clientDatabase(_ user: String, home: String? = nil) -> String {
        accountFolder(user, home: home) + "/parley-client.sqlite"
    }

    /// The path of the server's database.
    var serverDatabase: String { server.dataDirectory.appendingPathComponent("parley-server.sqlite").path }
}
