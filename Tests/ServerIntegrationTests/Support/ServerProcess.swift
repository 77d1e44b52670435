import Foundation
import Primitives
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a child process ended.
struct ProcessExit: Sendable, Equatable, CustomStringConvertible {
    /// True when it called exit; false when a signal killed it.
    let exited: Bool
    /// The exit status, or the signal number.
    let status: Int32

    var description: String { exited ? "exit status \(status)" : "killed by signal \(status)" }
}

/// Harness (b): the real `parley-server` executable as a child process, on 127.0.0.1 and an
/// ephemeral port (`--port 0`), its stderr captured.
///
/// Start it with ``start(dataDirectory:logLevel:)`` and always pair that with ``forceStop()`` in a
/// `defer` (synchronous: SIGKILL if still running, then a bounded wait for the end) and
/// ``stop(signal:within:)`` on the normal path. Foundation's `Process` reaps the child and reports
/// its end through the termination handler; every path that ends the process waits for that and
/// then releases the `Process` (``UncheckedProcess/release()``), or it leaks.
final class ServerProcess: Sendable {
    let pid: pid_t
    /// The port from the server's own "listening" line: the port it really bound.
    let port: Int
    /// The static key from the "listening" line.
    let serverKey: X25519PublicKey
    let dataDirectory: String
    let log: LogCapture
    private let exit: Observed<ProcessExit>
    private let process: UncheckedProcess

    private init(pid: pid_t, port: Int, serverKey: X25519PublicKey, dataDirectory: String, log: LogCapture, exit: Observed<ProcessExit>, process: UncheckedProcess) {
        self.pid = pid
        self.port = port
        self.serverKey = serverKey
        self.dataDirectory = dataDirectory
        self.log = log
        self.exit = exit
        self.process = process
    }

    /// What the server failed to do while starting.
    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts `parley-server` on `dataDirectory` and returns once it has logged "listening"
    /// (bounded: 20 s). A server that exits or stays silent fails the start, with its log.
    /// `arguments` are added to the command line (a node of a cluster: `--database`, `--node-id`,
    /// `--key-file`); `port` 0 is an ephemeral port.
    static func start(dataDirectory: String, logLevel: String = "info", port requestedPort: Int = 0, arguments extra: [String] = []) async throws -> ServerProcess {
        let binary = try ServerBinary.url()
        let log = try LogCapture()
        let exit = Observed<ProcessExit>()
        let process = Process()
        process.executableURL = binary
        // Every test client comes from 127.0.0.1: the per-address login limit has tests of its own.
        process.arguments = [
            "--host", "127.0.0.1", "--port", "\(requestedPort)", "--data-dir", dataDirectory, "--log-level", logLevel, "--logins-per-address", "100000",
        ] + extra
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = log.writeHandle
        process.terminationHandler = { finished in
            exit.append(ProcessExit(exited: finished.terminationReason == .exit, status: finished.terminationStatus))
            exit.finish()
        }
        try process.run()
        // The child holds its own copy now; ours must go, or end of file would never come.
        try log.writeHandle.close()
        log.start()
        let handle = UncheckedProcess(process)
        let pid = process.processIdentifier

        let listening: String
        do {
            let lines = try await log.lines.wait("the server's \"listening\" line", within: .seconds(20)) { lines in
                lines.contains(where: isListeningLine)
            }
            listening = lines.first(where: isListeningLine) ?? ""
        } catch {
            killAndReap(pid: pid, exit: exit, process: handle)
            throw StartFailure(description: "parley-server did not start (\(error)); its log:\n\(log.text)")
        }
        guard let port = field("address", in: listening).flatMap({ $0.split(separator: ":").last }).flatMap({ Int($0) }), port > 0,
              let keyHex = field("key", in: listening), let keyBytes = Hex.decode(keyHex),
              let key = try? X25519PublicKey(bytes: keyBytes)
        else {
            killAndReap(pid: pid, exit: exit, process: handle)
            throw StartFailure(description: "cannot read the bound port and key from: \(listening)")
        }
        return ServerProcess(pid: pid, port: port, serverKey: key, dataDirectory: dataDirectory, log: log, exit: exit, process: handle)
    }

    /// Whether the process has ended (and been reaped).
    var hasExited: Bool { !exit.elements.isEmpty }

    /// Sends `signal` (unless the process has already ended, so a recycled pid is never hit).
    func send(_ signal: Int32) {
        guard !hasExited else { return }
        kill(pid, signal)
    }

    /// Waits for the process to end, bounded.
    func waitForExit(within limit: Duration) async throws -> ProcessExit {
        let ended = try await exit.wait(forCount: 1, "parley-server (pid \(pid)) to exit", within: limit)
        process.release()
        return ended[0]
    }

    /// Sends `signal` and waits for the end; SIGKILLs it if it has not ended within `limit`.
    @discardableResult
    func stop(signal: Int32 = SIGKILL, within limit: Duration = .seconds(10)) async throws -> ProcessExit {
        send(signal)
        do {
            return try await waitForExit(within: limit)
        } catch {
            send(SIGKILL)
            _ = try? await waitForExit(within: .seconds(5))
            throw error
        }
    }

    /// The synchronous safety net for `defer`: SIGKILL if still running, then wait (bounded:
    /// ``forceStopWait``) until Foundation has reaped it, and release the `Process`. Without the
    /// wait the `Process` was never released: LeakSanitizer reported 27.6 KB in 271 allocations
    /// in the two-node pass, whose ``ClusterNodes/stopAll()`` ends its nodes this way.
    func forceStop() {
        Self.killAndReap(pid: pid, exit: exit, process: process)
    }

    /// How long ``forceStop()`` waits for a SIGKILLed server to be reaped before it gives up
    /// (leaving the `Process` unreleased rather than hanging a test).
    static let forceStopWait: Duration = .seconds(10) * sanitizerSlowdown

    /// SIGKILL unless already ended, a bounded synchronous wait for the termination handler, then
    /// the release.
    private static func killAndReap(pid: pid_t, exit: Observed<ProcessExit>, process: UncheckedProcess) {
        if exit.elements.isEmpty { kill(pid, SIGKILL) }
        let deadline = ContinuousClock.now + forceStopWait
        while exit.elements.isEmpty, ContinuousClock.now < deadline { usleep(1_000) }
        if !exit.elements.isEmpty { process.release() }
    }

    /// A weak reference to the Foundation `Process` (for the test that it is released).
    func weakProcess() -> WeakProcess { WeakProcess(process.process) }

    /// The readiness line: `... notice parley.server: address=HOST:PORT data-dir=... key=HEX [parley_server] listening`.
    private static func isListeningLine(_ line: String) -> Bool {
        line.hasSuffix(" listening") && line.contains(" address=")
    }

    /// The value of `name=` in a log line's metadata (swift-log prints `name=value`).
    private static func field(_ name: String, in line: String) -> String? {
        for token in line.split(separator: " ") where token.hasPrefix(name + "=") {
            return String(token.dropFirst(name.count + 1))
        }
        return nil
    }
}

/// Holds a `Process` weakly: nil once nothing else holds it.
final class WeakProcess: @unchecked Sendable {
    private(set) weak var process: Process?
    init(_ process: Process) { self.process = process }
}

/// Keeps the `Process` object alive for as long as the wrapper (its termination handler and
/// reaping live in it); never touched from two threads.
private final class UncheckedProcess: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }

    /// Call once the termination handler has run. On Linux, Foundation's `Process` and the run
    /// loop source that watches the child hold each other until `waitUntilExit()` drops the
    /// source, so a `Process` never waited for leaks with everything it holds (its arguments,
    /// its pipes' handles): LeakSanitizer reported those cycles (`make asan`, in
    /// ServerIntegrationTests). The child has exited, so this returns at once.
    func release() { process.waitUntilExit() }
}

/// Finds the built `parley-server` executable. Tests never build it: `make test` runs
/// `swift build --build-tests`, which builds every product first.
enum ServerBinary {
    struct Missing: Error, CustomStringConvertible {
        let searched: [String]
        var description: String {
            "parley-server is not built (looked in: \(searched.joined(separator: ", "))). "
                + "Build every product before testing: `swift build --build-tests` (as `make test` does), "
                + "or set PARLEY_SERVER_BINARY to its path."
        }
    }

    static func url() throws -> URL {
        var candidates: [URL] = []
        if let override = ProcessInfo.processInfo.environment["PARLEY_SERVER_BINARY"] {
            candidates.append(URL(fileURLWithPath: override))
        }
        // The test runner lives in the products directory, beside the executables.
        if let runner = ProcessInfo.processInfo.arguments.first {
            let products = URL(fileURLWithPath: runner).resolvingSymlinksInPath().deletingLastPathComponent()
            if products.path.hasSuffix(".xctest/Contents/MacOS") {
                // A bundle (macOS): .../debug/ParleyPackageTests.xctest/Contents/MacOS/runner.
                let bundle = products.deletingLastPathComponent().deletingLastPathComponent()
                candidates.append(bundle.deletingLastPathComponent().appendingPathComponent("parley-server"))
            } else {
                candidates.append(products.appendingPathComponent("parley-server"))
            }
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug/parley-server"))
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        throw Missing(searched: candidates.map(\.path))
    }

    /// The package root, from this file's path (Tests/ServerIntegrationTests/Support/...).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

extension ServerProcess {
    /// Starts a server, runs `body`, then SIGKILLs it and waits for it to be reaped, whether
    /// `body` threw or not (and the synchronous `defer` covers cancellation).
    static func with<Result: Sendable>(
        dataDirectory: String, logLevel: String = "info", arguments: [String] = [], _ body: (ServerProcess) async throws -> Result
    ) async throws -> Result {
        let server = try await start(dataDirectory: dataDirectory, logLevel: logLevel, arguments: arguments)
        defer { server.forceStop() }
        let outcome: Swift.Result<Result, any Error>
        do { outcome = .success(try await body(server)) } catch { outcome = .failure(error) }
        if !server.hasExited { try await server.stop(signal: SIGKILL) }
        return try outcome.get()
    }
}

extension IntegrationEnvironment {
    /// A wire session with a server subprocess, pinning the key it logged.
    func withSession<Result: Sendable>(_ server: ServerProcess, _ body: (WireSession) async throws -> Result) async throws -> Result {
        try await withSession(port: server.port, serverKey: server.serverKey, body)
    }
}
