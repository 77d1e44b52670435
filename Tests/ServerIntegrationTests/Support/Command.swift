import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A short-lived child process (`parley-server --print-key`, the Python Noise peer): run to the
/// end, bounded, its output captured through pipes that are read while it runs.
enum Command {
    struct Output: Sendable {
        let exit: ProcessExit
        let stdout: String
        let stderr: String
    }

    /// Runs `executable` with `arguments` (`input`, if any, on its standard input); SIGKILLs it
    /// (and fails) if it outlives `limit`.
    static func run(_ executable: URL, _ arguments: [String], input: String? = nil, within limit: Duration) async throws -> Output {
        let stdout = try LogCapture()
        let stderr = try LogCapture()
        let ended = Observed<ProcessExit>()
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdin = input.map { _ in Pipe() }
        process.standardInput = stdin ?? FileHandle.nullDevice
        process.standardOutput = stdout.writeHandle
        process.standardError = stderr.writeHandle
        process.terminationHandler = { finished in
            ended.append(ProcessExit(exited: finished.terminationReason == .exit, status: finished.terminationStatus))
        }
        try process.run()
        let pid = process.processIdentifier
        defer { if ended.elements.isEmpty { kill(pid, SIGKILL) } }
        try stdout.writeHandle.close()
        try stderr.writeHandle.close()
        if let stdin, let input {
            // Short (a password line): fits the pipe's buffer, so this write does not block.
            try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        stdout.start()
        stderr.start()
        let exit = try await ended.wait(forCount: 1, "\(executable.lastPathComponent) to finish", within: limit)[0]
        // Foundation's Process and its run loop source hold each other until waitUntilExit()
        // drops the source (LeakSanitizer reported every Process never waited for); the child
        // has exited, so this returns at once.
        process.waitUntilExit()
        // The pipes reach end of file once the child is gone; bounded all the same.
        try await stdout.lines.waitForEnd("\(executable.lastPathComponent)'s stdout to close", within: .seconds(5))
        try await stderr.lines.waitForEnd("\(executable.lastPathComponent)'s stderr to close", within: .seconds(5))
        return Output(exit: exit, stdout: stdout.text, stderr: stderr.text)
    }

    /// The absolute path of `name` on PATH, or nil.
    static func find(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
