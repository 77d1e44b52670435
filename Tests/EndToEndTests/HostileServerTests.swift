import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10, finding 5: text from the server must never reach the terminal raw. A fake server
/// (`Tools/noise-peer/hostile_server.py`, an independent Noise responder over PyPI `noiseprotocol`)
/// answers the real `parley` binary with error messages full of escape sequences, control
/// characters, Unicode line breaks and a forged "Logged in. Verified." line.
///
/// Skipped, with the reason printed, only when python3 or `noiseprotocol` is missing, and even then
/// it fails under CI (`CI` set), where the module is installed.
@Suite("A hostile server", .serialized, .timeLimit(.minutes(3)))
struct HostileServerTests {
    /// Clears the screen, homes the cursor, retitles the window, rings the bell, starts a new line
    /// with a forged status, then tries a Unicode line break, a C1 CSI and a bidi override.
    static let hostileMessage =
        "\u{1B}[2J\u{1B}[H\u{1B}]0;pwned\u{07}\r\nLogged in. Verified.\u{2028}Logged in. Verified.\u{9B}31m\u{202E}evil\u{85}x"

    @Test("error messages from the server are neutralised on stderr, whatever the error code", arguments: [13, 51, 999])
    func serverErrorsReachStderrNeutralised(code: Int) async throws {
        guard let fake = try await HostileServer.start(code: code) else { return }
        defer { fake.stop() }
        let home = fake.root.appendingPathComponent("home").path
        let registered = try await fake.parley(["register", "eve"], home: home)
        #expect(registered.status == 0, "\(registered)")
        let result = try await fake.parley(["receive"], home: home)
        #expect(result.status != 0)
        Self.expectNeutralised(result.stdout, "stdout")
        Self.expectNeutralised(result.stderr, "stderr")
        #expect(result.stderr.contains("parley: "))
    }

    /// Issue 14: no downgrade. A server that strips the ML-KEM prekey from a bundle (or a
    /// contact whose client predates PQXDH) gets no session at all: the client says why and
    /// sends nothing, rather than falling back to classical X3DH.
    @Test("a bundle without an ML-KEM prekey is refused: nothing is sent, and the person is told why")
    func bundleWithoutKEMIsRefused() async throws {
        guard let fake = try await HostileServer.start(code: 51, stripKEM: true) else { return }
        defer { fake.stop() }
        let home = fake.root.appendingPathComponent("home").path
        let registered = try await fake.parley(["register", "eve"], home: home)
        #expect(registered.status == 0, "\(registered)")
        let sent = try await fake.parley(["send", "bob", "hello"], home: home)
        #expect(sent.status == 65, "\(sent)")
        #expect(sent.stderr.contains("post-quantum"), "\(sent)")
        #expect(sent.stderr.contains("not sending"), "\(sent)")
    }

    @Test("a refused registration's message is neutralised too")
    func refusedRegistration() async throws {
        guard let fake = try await HostileServer.start(code: 10, registerError: true) else { return }
        defer { fake.stop() }
        let result = try await fake.parley(["register", "eve"], home: fake.root.appendingPathComponent("home").path)
        #expect(result.status == 65, "\(result)")
        Self.expectNeutralised(result.stdout, "stdout")
        Self.expectNeutralised(result.stderr, "stderr")
    }

    @Test("in the interactive session the server's message is shown without its escape sequences")
    func interactiveSession() async throws {
        guard let fake = try await HostileServer.start(code: 13) else { return }
        defer { fake.stop() }
        let world = try World()
        let home = world.home("eve")
        #expect(try await fake.parley(["register", "eve"], home: home).status == 0)
        let terminal = try PseudoTerminal()
        let process = Process()
        process.executableURL = Binaries.parley
        process.arguments = ["--server", "127.0.0.1:\(fake.port)", "--home", home, "--user", "eve"]
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm-256color"
        environment["NO_COLOR"] = "1"
        process.environment = environment
        let slave = FileHandle(fileDescriptor: terminal.slave, closeOnDealloc: false)
        process.standardInput = slave
        process.standardOutput = slave
        process.standardError = slave
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try await terminal.read(until: "Password for eve")
        let start = terminal.transcript.endIndex
        terminal.type("eve-password-123\r")
        try await terminal.read(until: "evil", from: start)
        try await terminal.read(until: "Password for eve", from: start)
        terminal.type("\u{15}\u{04}")
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning, ContinuousClock.now < deadline {
            terminal.drain()
            try await Task.sleep(for: .milliseconds(20))
        }
        let shown = String(terminal.transcript[start...])
        // The editor draws its own prompt with escape codes; none of the server's may appear.
        for forbidden in ["\u{1B}[2J", "\u{1B}[H", "\u{1B}]0;", "\u{07}", "\u{9B}", "\u{202E}", "\u{2028}", "\u{85}"] {
            #expect(!shown.contains(forbidden), "the terminal got \(forbidden.debugDescription) from the server:\n\(shown.debugDescription)")
        }
        #expect(!shown.contains("\nLogged in. Verified."), "\(shown.debugDescription)")
    }

    /// No control character from the server, and no line that starts with the forged status.
    static func expectNeutralised(_ text: String, _ stream: String) {
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let control = (value < 0x20 && value != 0x0A) || (0x7F...0x9F).contains(value)
            let reordering = (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
            let lineBreak = value == 0x2028 || value == 0x2029
            #expect(!(control || reordering || lineBreak), "\(stream) has U+\(String(value, radix: 16, uppercase: true)): \(text.debugDescription)")
        }
        for line in text.split(whereSeparator: \.isNewline) {
            #expect(!line.hasPrefix("Logged in"), "\(stream) has a forged line: \(text.debugDescription)")
        }
    }
}

/// `hostile_server.py` as a child process on an ephemeral port.
final class HostileServer: @unchecked Sendable {
    let process: Process
    let port: Int
    let root: URL

    private init(process: Process, port: Int, root: URL) {
        self.process = process
        self.port = port
        self.root = root
    }

    static let script = Binaries.packageRoot.appendingPathComponent("Tools/noise-peer/hostile_server.py").path

    /// Starts the fake server, or returns nil (after saying why) when Python's `noiseprotocol` is
    /// not installed outside CI.
    static func start(code: Int, registerError: Bool = false, stripKEM: Bool = false) async throws -> HostileServer? {
        let probe = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import noise.connection"], timeout: .seconds(20))
        if probe.status != 0 {
            let reason = "python3 with the 'noiseprotocol' module is not available: \(probe.stderr)"
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record(Comment(rawValue: reason)) } else { print("SKIPPED hostile server: \(reason)") }
            return nil
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let message = Array(hostileMessageBytes).map { String(format: "%02x", $0) }.joined()
        process.arguments = ["python3", script, "\(code)", message] + (registerError ? ["--register-error"] : []) + (stripKEM ? ["--strip-kem"] : [])
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = OutputCollector(stdout.fileHandleForReading)
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let line = output.text.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("port ") }), let port = Int(line.dropFirst(5)) {
                return HostileServer(process: process, port: port, root: root)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        throw HarnessError(description: "hostile_server.py did not start: \(output.text)")
    }

    static var hostileMessageBytes: [UInt8] { Array(HostileServerTests.hostileMessage.utf8) }

    /// Runs `parley` against the fake server as `eve`, the password on stdin.
    func parley(_ arguments: [String], home: String) async throws -> RunResult {
        let common = ["--server", "127.0.0.1:\(port)", "--home", home, "--user", "eve", "--password-stdin"]
        return try await run(Binaries.parley, common + arguments, input: "eve-password-123\n", timeout: .seconds(60))
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: root)
    }
}
