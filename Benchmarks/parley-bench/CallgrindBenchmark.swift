import Foundation
import Primitives
import SodiumCrypto
import WireProtocol

/// Benchmark 7 (`callgrind`): the server's instructions per relayed message, a figure that does not
/// depend on the machine's load. The real `parley-server` runs under `valgrind --tool=callgrind`
/// twice on a fresh database: once for a fixed scenario (`pairs` senders each send `perSender`
/// envelopes, `inFlight` at a time, to their logged-in recipient, who acknowledges in batches of
/// `acknowledgeBatch` and the rest at the end) and once for the same scenario with no message
/// (start, log in, close, shut down). Instructions per relayed message = (first - second) / messages:
/// the start-up, logins and shutdown cancel out. The load generator runs in this process, outside
/// valgrind. With `--baseline-server PATH` the baseline binary is measured the same way first.
struct CallgrindBenchmark {
    var pairs = 8
    var perSender = 250
    var inFlight = 32
    var acknowledgeBatch = 25
    var dataRoot: String
    var serverBinary: String
    var baselineBinary: String?
    /// Where to keep each run's callgrind output (for `callgrind_annotate`); nil deletes them.
    var keepOutputIn: String?

    var messages: Int { pairs * perSender }

    func run() async throws {
        Report.heading("7. callgrind: parley-server instructions per relayed message (\(pairs) pairs x \(perSender) messages = \(messages), "
            + "\(inFlight) in flight per sender; minus the same scenario with no message)")
        guard let valgrind = Self.which("valgrind") else {
            emit("valgrind is not installed (apt-get install valgrind; `make bench` installs it): skipped")
            return
        }
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let tools = try makeTemporaryDirectory(in: "/tmp")
        defer { try? FileManager.default.removeItem(atPath: tools) }
        let shim = try Self.buildSigsuspendShim(in: tools)
        var baseline: Double?
        if let baselineBinary {
            let binary = try Self.withoutDebugInfo(baselineBinary, as: tools + "/baseline-server")
            baseline = try await perMessage(binary: binary, label: "baseline", valgrind: valgrind, shim: shim, crypto: crypto, random: random)
        }
        let binary = try Self.withoutDebugInfo(serverBinary, as: tools + "/current-server")
        let current = try await perMessage(binary: binary, label: "current", valgrind: valgrind, shim: shim, crypto: crypto, random: random)
        BenchResults.record(ScenarioResult(
            name: "callgrind.server_instructions_per_message", unit: "instructions", samples: [current], baseline: baseline,
            baselineName: "baseline parley-server, same run"))
    }

    private func perMessage(binary: String, label: String, valgrind: String, shim: String, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> Double {
        let started = Measurement.clock.now
        let loaded = try await instructions(binary: binary, messages: perSender, valgrind: valgrind, shim: shim, crypto: crypto, random: random)
        let empty = try await instructions(binary: binary, messages: 0, valgrind: valgrind, shim: shim, crypto: crypto, random: random)
        let perMessage = Double(loaded - empty) / Double(max(messages, 1))
        emit("  \(label): \(loaded) instructions with \(messages) messages, \(empty) without; "
            + "=> \(Report.fixed(perMessage, 0)) instructions per relayed message (\(Report.fixed(Measurement.seconds(Measurement.clock.now - started), 1)) s)")
        return perMessage
    }

    /// Runs the scenario with `messages` per sender against `binary` under callgrind; returns the
    /// total instructions callgrind counted in the server process (all threads).
    private func instructions(binary: String, messages: Int, valgrind: String, shim: String, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> Int {
        let pairs = try (0..<self.pairs).map { index in
            try BenchPair.make(index: index, prefix: "g", envelopes: max(1, min(messages, 64)), crypto: crypto, random: random)
        }
        let directory = try makeTemporaryDirectory(in: dataRoot)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try populateRelayAccounts(pairs.flatMap { [$0.sender, $0.recipient] }, directory: directory, crypto: crypto)
        let output = directory + "/callgrind.out"
        // Tried up to three times: the free port handed to the server can be taken meanwhile.
        var attempt = 1
        var started: (server: ServerProcess, port: Int, key: X25519PublicKey)?
        while started == nil {
            let server = try ServerProcess(
                binary: binary, dataDirectory: directory,
                wrapper: [valgrind, "--tool=callgrind", "--callgrind-out-file=\(output)", "--dump-instr=no", "--compress-strings=no"],
                environment: ["LD_PRELOAD": shim, "SWIFT_BACKTRACE": "enable=no"])
            do {
                let (port, key) = try await server.listening(within: 120)
                started = (server, port, key)
            } catch {
                server.terminate()
                guard attempt < 3 else { throw error }
                attempt += 1
            }
        }
        let (server, port, key) = started!
        do {
            try await relay(pairs: pairs, perSender: messages, port: port, key: key, crypto: crypto, random: random)
        } catch {
            server.terminate()
            throw error
        }
        server.terminate()
        if let keep = keepOutputIn {
            let kept = "\(keep)/callgrind.\(URL(fileURLWithPath: binary).lastPathComponent).\(messages * self.pairs).out"
            try? FileManager.default.removeItem(atPath: kept)
            try? FileManager.default.copyItem(atPath: output, toPath: kept)
        }
        guard let text = try? String(contentsOfFile: output, encoding: .utf8) else {
            throw BenchError.unexpected("callgrind wrote no \(output) (server exit status \(server.terminationStatus)); see \(directory)/server.log")
        }
        for line in text.split(separator: "\n") where line.hasPrefix("summary:") || line.hasPrefix("totals:") {
            if let value = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) { return value }
        }
        throw BenchError.unexpected("no summary line in \(output)")
    }

    /// The fixed scenario: everyone logs in; then each sender sends `perSender` envelopes and each
    /// recipient waits for all of them, acknowledging as it goes.
    private func relay(pairs: [BenchPair], perSender: Int, port: Int, key: X25519PublicKey, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws {
        let state = LoadState(connections: 2 * pairs.count)
        let inFlight = self.inFlight
        let batch = acknowledgeBatch
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pair in pairs {
                group.addTask {
                    try await state.failingOpensGates {
                        try await withWireClient(port: port, serverKey: key, crypto: crypto, random: random) { wire in
                            try expectLoggedIn(await wire.request(.login(username: pair.recipient.name, password: pair.recipient.password)), "login")
                            state.didRegister()
                            guard perSender > 0 else { return }
                            var received = 0
                            var ids: [UInt64] = []
                            for await push in wire.pushes {
                                guard case .delivery(let delivery) = push else { continue }
                                received += 1
                                ids.append(delivery.id)
                                if ids.count >= batch || received == perSender {
                                    _ = try await wire.request(.acknowledge(ids: ids))
                                    ids.removeAll(keepingCapacity: true)
                                }
                                if received == perSender { break }
                            }
                        }
                    }
                }
                group.addTask {
                    try await state.failingOpensGates {
                        try await withWireClient(port: port, serverKey: key, crypto: crypto, random: random) { wire in
                            try expectLoggedIn(await wire.request(.login(username: pair.sender.name, password: pair.sender.password)), "login")
                            state.didRegister()
                            await state.registered.wait()
                            let recipient = pair.recipient.name
                            let identity = pair.recipient.identity.publicKey
                            try await withThrowingTaskGroup(of: Void.self) { workers in
                                for worker in 0..<min(inFlight, perSender) {
                                    workers.addTask {
                                        var index = worker
                                        while index < perSender {
                                            let envelope = pair.envelopes[index % pair.envelopes.count]
                                            let answer = try await wire.request(.send(recipient: recipient, recipientIdentity: identity, envelope: envelope))
                                            guard case .accepted = answer else { throw BenchError.unexpected("send answered with \(answer)") }
                                            index += inFlight
                                        }
                                    }
                                }
                                try await workers.waitForAll()
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// A copy of `binary` without its DWARF sections: valgrind 3.19 (Debian 12) cannot read the
    /// DWARF 5 that Swift 6.3's toolchain emits and gives up ("debuginfo reader: ensure_valid
    /// failed"). Instruction counts need no debug information.
    static func withoutDebugInfo(_ binary: String, as copy: String) throws -> String {
        try run(["objcopy", "--strip-debug", binary, copy], what: "objcopy --strip-debug (binutils)")
        return copy
    }

    /// Builds a one-function preload library that gives `sigsuspend` a writable copy of its mask.
    /// libdispatch's main thread (where Swift's async main parks) calls `sigsuspend` with a mask in
    /// read-only memory, and valgrind 3.19's wrapper writes into the mask it is given: it dies with
    /// "VALGRIND INTERNAL ERROR ... SIGSEGV" at the first `rt_sigsuspend`. The copy changes nothing
    /// for the server: the kernel receives the same mask.
    static func buildSigsuspendShim(in directory: String) throws -> String {
        let source = directory + "/sigsuspend-copy.c"
        let library = directory + "/sigsuspend-copy.so"
        let code = """
            #define _GNU_SOURCE
            #include <signal.h>
            #include <unistd.h>
            #include <sys/syscall.h>
            int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return (int)syscall(SYS_rt_sigsuspend, &copy, 8); }

            """
        try code.write(toFile: source, atomically: true, encoding: .utf8)
        let compiler = which("cc") ?? which("clang") ?? "cc"
        try run([compiler, "-shared", "-fPIC", "-O2", "-o", library, source], what: "a C compiler (cc)")
        return library
    }

    private static func run(_ command: [String], what: String) throws {
        guard let tool = command.first.flatMap({ $0.hasPrefix("/") ? $0 : which($0) }) else {
            throw BenchError.setup("callgrind needs \(what)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = Array(command.dropFirst())
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError.setup("\(command.joined(separator: " ")) failed (status \(process.terminationStatus))") }
    }

    /// The full path of `tool` on PATH, if it is there.
    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
