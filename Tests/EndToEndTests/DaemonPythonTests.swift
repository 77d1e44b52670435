import Foundation
import Testing

/// `parley daemon` driven over its socket from Python, as a bot author would:
/// `Tools/daemon-e2e/daemon_e2e.py` starts the built `parley-server` and daemons, and checks every
/// method, the event stream (cursor resume after a daemon restart), malformed input (not JSON,
/// a 100 MB line, invalid UTF-8, wrong types), a slow subscriber, TCP with its token and the
/// socket's privacy, validating every response and notification against
/// docs/parley.openrpc.json with `jsonschema`.
///
/// Skipped where python3 or `jsonschema` is missing; where they must be present
/// (`PARLEY_REQUIRE_INTEROP=1`, set by `.ci/run`), `daemonPythonPeerIsPresentWhereRequired` fails.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct DaemonPythonTests {
    static let unavailable: String? = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import jsonschema"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "python3 is not installed" }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : "the Python module 'jsonschema' is not installed (pip install jsonschema)"
    }()

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PARLEY_REQUIRE_INTEROP"] == "1", "PARLEY_REQUIRE_INTEROP=1 is not set"))
    func daemonPythonPeerIsPresentWhereRequired() {
        #expect(Self.unavailable == nil, "the daemon's Python tests would be skipped: \(Self.unavailable ?? "")")
    }

    @Test(.enabled(if: unavailable == nil, "needs python3 with jsonschema (pip install jsonschema)"))
    func pythonDrivesTheDaemonOverItsSocket() throws {
        let script = Binaries.packageRoot.appendingPathComponent("Tools/daemon-e2e/daemon_e2e.py").path
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("daemon-e2e-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: output) }
        let log = try FileHandle(forWritingTo: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--bin", Binaries.folder.path]
        process.standardOutput = log
        process.standardError = log
        try process.run()
        process.waitUntilExit()
        try log.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "\(text.suffix(6000))")
        #expect(text.contains("daemon-e2e: 11 passed"), "\(text.suffix(2000))")
    }
}
