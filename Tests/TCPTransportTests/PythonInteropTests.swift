import Foundation
import Primitives
import SecureChannel
import TCPTransport
import Testing

/// Interoperability with an independent Noise implementation: `Tools/noise-peer/noise_peer.py`
/// (PyPI `noiseprotocol`) runs the initiator against `NIOServerTransport` echoing frames.
///
/// Reported as skipped (an enabling trait, not a silent pass) when python3 or the `noiseprotocol`
/// module is missing. Where the peer must be present (`PARLEY_REQUIRE_INTEROP=1`, set by
/// `.ci/run`), `interopPeerIsPresentWhereRequired` fails instead.
@Suite(.timeLimit(.minutes(1)))
struct PythonInteropTests {
    /// Why the Python peer cannot run here, or nil when it can (checked once per process).
    static let unavailable: String? = unavailableReason()
    static let peerAvailable = ConditionTrait.enabled(
        if: unavailable == nil, "needs python3 with the noiseprotocol module (pip install noiseprotocol)")

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PARLEY_REQUIRE_INTEROP"] == "1", "PARLEY_REQUIRE_INTEROP=1 is not set"))
    func interopPeerIsPresentWhereRequired() {
        #expect(Self.unavailable == nil, "the Python interop tests would be skipped: \(Self.unavailable ?? "")")
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = repositoryRoot.appendingPathComponent("Tools/noise-peer/noise_peer.py").path

    /// 4 bytes fit one transport message; 60 000 bytes span two (the chunk limit is 65519).
    @Test(Self.peerAvailable, arguments: [4, 60_000])
    func pythonNoisePeerCompletesTheHandshakeAndGetsItsFrameEchoed(frameSize: Int) async throws {
        let frame = (0..<frameSize).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        let environment = try TransportEnvironment()
        let serverKeys = try environment.keyPair()
        let echo = EchoHandler()
        try await environment.withServer(keys: serverKeys, handler: echo) { server in
            let result = try await Self.run([
                "python3", Self.script, "127.0.0.1", "\(server.localPort)", Hex.encode(frame),
                "--expect-server-key", Hex.encode(serverKeys.publicKey.bytes),
            ], timeout: 20)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "server_key \(Hex.encode(serverKeys.publicKey.bytes))")
            let echoed = lines.dropFirst().first ?? ""
            #expect(echoed == "frame \(Hex.encode(frame))", "got \(echoed.prefix(80))... (\(echoed.count) characters)")
        }
        #expect(echo.recorder.seenKeys.count == 1)
    }

    @Test(Self.peerAvailable)
    func pythonNoisePeerReportsAServerKeyMismatch() async throws {
        let environment = try TransportEnvironment()
        try await environment.withServer { server in
            let wrongKey = String(repeating: "ab", count: 32)
            let result = try await Self.run(["python3", Self.script, "127.0.0.1", "\(server.localPort)", "01", "--expect-server-key", wrongKey], timeout: 20)
            #expect(result.status != 0)
            #expect(result.stderr.contains("server key mismatch"))
        }
    }

    static func unavailableReason() -> String? {
        guard let check = try? runSync(["python3", "-c", "import noise.connection"]) else {
            return "python3 is not installed"
        }
        return check == 0 ? nil : "the Python module 'noiseprotocol' is not installed (pip install noiseprotocol)"
    }

    private static func runSync(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    struct Output: Sendable {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs a command, killing it if it outlives `timeout` seconds. Output goes to temporary files
    /// (a pipe would fill up and block a child that prints more than 64 KiB).
    static func run(_ arguments: [String], timeout: Double) async throws -> Output {
        let directory = FileManager.default.temporaryDirectory
        let stdoutURL = directory.appendingPathComponent("noise-peer-\(UUID().uuidString).out")
        let stderrURL = directory.appendingPathComponent("noise-peer-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: stdoutURL)
            try? FileManager.default.removeItem(at: stderrURL)
        }
        let stdout = try FileHandle(forWritingTo: stdoutURL)
        let stderr = try FileHandle(forWritingTo: stderrURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        try stdout.close()
        try stderr.close()
        return Output(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
    }
}
