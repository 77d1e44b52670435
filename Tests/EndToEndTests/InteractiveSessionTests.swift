import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal whose slave side is a child process's terminal.
final class PseudoTerminal: @unchecked Sendable {
    let master: Int32
    let slave: Int32
    private(set) var transcript = ""

    init() throws {
        var master: Int32 = -1, slave: Int32 = -1
        var size = winsize(ws_row: 40, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
        guard openpty(&master, &slave, nil, nil, &size) == 0 else { throw HarnessError(description: "openpty failed") }
        self.master = master
        self.slave = slave
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        close(master)
        close(slave)
    }

    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Moves whatever the child has written so far into ``transcript``; returns how many bytes.
    @discardableResult
    func drain() -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
            guard count > 0 else { return total }
            transcript += String(decoding: buffer.prefix(count), as: UTF8.self)
            total += count
        }
    }

    /// Reads until `needle` appears in what was read since `from` (bounded).
    @discardableResult
    func read(until needle: String, from start: String.Index? = nil, timeout: Duration = .seconds(20)) async throws -> String {
        _ = try await read(untilAny: [needle], from: start, timeout: timeout)
        return transcript
    }

    /// Reads until one of `needles` appears in what was read since `from` (bounded); returns the
    /// one seen first.
    func read(untilAny needles: [String], from start: String.Index? = nil, timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let count = drain()
            let searched = start.map { transcript[$0...] } ?? transcript[...]
            let found = needles.compactMap { needle in searched.range(of: needle).map { (needle, $0.lowerBound) } }
            if let first = found.min(by: { $0.1 < $1.1 }) { return first.0 }
            guard ContinuousClock.now < deadline else { break }
            if count == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        throw HarnessError(description: "did not see \(needles.map(\.debugDescription).joined(separator: " or ")); the terminal showed:\n\(transcript)")
    }
}

@Suite("Interactive session", .serialized, .timeLimit(.minutes(3)))
struct InteractiveSessionTests {
    @Test("through a pseudo-terminal: the password is not echoed, a chat exchange works live, Ctrl-D exits cleanly")
    func chatThroughPseudoTerminal() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("zed")
        try await world.register("yan")
        // Yan writes first so that Zed's session starts with something to show.
        #expect(try await world.parley("yan", ["send", "zed", "hello zed"]).status == 0)

        let terminal = try PseudoTerminal()
        let process = Process()
        process.executableURL = Binaries.parley
        process.arguments = ["--server", "127.0.0.1:\(world.server.port)", "--home", world.home("zed"), "--user", "zed"]
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm-256color"
        environment.removeValue(forKey: "NO_COLOR")
        process.environment = environment
        let slaveHandle = FileHandle(fileDescriptor: terminal.slave, closeOnDealloc: false)
        process.standardInput = slaveHandle
        process.standardOutput = slaveHandle
        process.standardError = slaveHandle
        try process.run()
        defer {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        try await terminal.read(until: "Password for zed")
        let beforePassword = terminal.transcript.endIndex
        terminal.type("zed-password-123\r")
        try await terminal.read(until: "Logged in as zed")
        #expect(!terminal.transcript[beforePassword...].contains("zed-password-123"), "the password was echoed")
        // Yan's message arrived while Zed was away: a one-line notice.
        try await terminal.read(until: "from yan")

        terminal.type("/chat yan\r")
        try await terminal.read(until: "conversation with yan")
        try await terminal.read(until: "hello zed")
        let beforeSend = terminal.transcript.endIndex
        terminal.type("hi yan, typing in a real terminal\r")
        try await terminal.read(until: "hi yan, typing in a real terminal", from: beforeSend)

        let received = try await world.parley("yan", ["receive", "--wait", "5"])
        #expect(received.stdout.contains("hi yan, typing in a real terminal"), "\(received)")
        // A reply appears live, above whatever is being typed: the half-typed line is echoed
        // first, and must be drawn again after the reply (the echo alone does not count).
        let beforeTyping = terminal.transcript.endIndex
        terminal.type("half-typed")
        try await terminal.read(until: "half-typed", from: beforeTyping)
        let beforeReply = terminal.transcript.endIndex
        #expect(try await world.parley("yan", ["send", "zed", "live reply from yan"]).status == 0)
        try await terminal.read(until: "live reply from yan", from: beforeReply)
        let reply = try #require(terminal.transcript.range(of: "live reply from yan", range: beforeReply..<terminal.transcript.endIndex))
        try await terminal.read(until: "half-typed", from: reply.upperBound)

        terminal.type("\u{15}")  // Ctrl-U clears the half-typed line
        terminal.type("\u{04}")  // Ctrl-D on an empty line leaves
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning, "parley did not exit on Ctrl-D:\n\(terminal.transcript)")
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        // The terminal is back in cooked mode with echo on.
        var settings = termios()
        tcgetattr(terminal.slave, &settings)
        #expect(settings.c_lflag & tcflag_t(ECHO) != 0)
        #expect(settings.c_lflag & tcflag_t(ICANON) != 0)
    }

    @Test("started with --user NAME, it asks for NAME's password at once (again after a wrong one), never for the username")
    func userOptionGoesStraightToThePassword() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("uma")
        let client = try InteractiveClient("uma", in: world)
        let first = try await client.terminal.read(untilAny: ["Password for uma", "Username"])
        #expect(first == "Password for uma", "the first prompt was not uma's password:\n\(client.transcript)")
        guard first == "Password for uma" else { return }

        let beforeWrong = client.transcript.endIndex
        client.type(line: "not-uma-password")
        try await client.read(until: "wrong password", from: beforeWrong)
        let next = try await client.terminal.read(untilAny: ["Password for uma", "Username"], from: beforeWrong)
        #expect(next == "Password for uma", "after a wrong password it did not ask for uma's password again:\n\(client.transcript)")
        guard next == "Password for uma" else { return }

        client.type(line: "uma-password-123")
        try await client.read(until: "Logged in as uma")
        #expect(!client.transcript.contains("Username"), "\(client.transcript)")
        #expect(try await client.quit() == 0, "\(client.transcript)")
    }

    @Test("/images lists a received image, /view shows it from memory, /save writes it in clear, /set save-images turns saving on")
    func imageCommands() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("ada")
        try await world.register("ben")
        let png = world.root.appendingPathComponent("picture.png").path
        _ = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Binaries.packageRoot.appendingPathComponent("scripts/make_demo_png.py").path, png])
        #expect(try await world.parley("ben", ["send-image", "ada", png]).status == 0)
        let account = world.accountFolder("ada")

        let ada = try InteractiveClient("ada", in: world)
        try await ada.logIn()
        var start = ada.transcript.endIndex
        ada.type(line: "/images ben")
        try await ada.read(until: "1. ", from: start)
        try await ada.read(until: "from ben", from: start)
        start = ada.transcript.endIndex
        ada.type(line: "/view 1")
        // NO_COLOR: the description instead of the half-block preview.
        try await ada.read(until: "(a preview needs a colour terminal)", from: start)
        #expect(!FileManager.default.fileExists(atPath: account + "/images"), "/view wrote a file")
        start = ada.transcript.endIndex
        ada.type(line: "/save 1")
        try await ada.read(until: "Saved in clear", from: start)
        let dates = try FileManager.default.contentsOfDirectory(atPath: account + "/images/ben")
        #expect(dates.count == 1)
        start = ada.transcript.endIndex
        ada.type(line: "/set save-images on")
        try await ada.read(until: "save-images is on", from: start)
        #expect(try await ada.quit() == 0)
        #expect(try await world.parley("ada", ["set", "save-images"]).stdout.contains("save-images is on"))
    }
}
