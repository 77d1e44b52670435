import Accounts
import Foundation
import PostgresTestCluster
import Primitives
import SQLiteStore
import SodiumCrypto
import Synchronization
import SystemClock
import WireProtocol

/// Benchmark 4: memory per idle authenticated connection. The real `parley-server` binary runs
/// as a child process (so its RSS is its own), on a data directory pre-populated with `count`
/// accounts; this process opens `count` connections, logs each in, and leaves them idle. Reported:
/// the server's VmRSS before, halfway and after, and the bytes per connection, both overall
/// ((after - before) / count) and marginal (between the halfway point and the end).
struct IdleConnectionsBenchmark {
    var serverBinary: String
    var count: Int
    var dataRoot: String
    var concurrentLogins = 64
    var settle: Duration = .seconds(3)
    /// The addresses the clients connect to, in turn. One host allows at most one connection per
    /// ephemeral port (28,232 on this machine: `ip_local_port_range` 32768-60999); with several
    /// loopback addresses (127.0.0.1, 127.0.0.2, ...) each gets its own range, and the server then
    /// listens on 0.0.0.0 (its accounts get a random password for the run).
    var hosts = ["127.0.0.1"]
    var label = "4. idle connections"
    /// Stop attempting once this many logins have failed (idle-max: what stops it has been seen).
    var stopAfterFailures: Int?

    struct Result {
        let count: Int
        let established: Int
        let failed: Int
        let firstError: String?
        let stragglers: Int
        let loginSeconds: Double
        let residentBefore: Int
        let residentHalfway: Int
        let residentAfter: Int
        let residentAfterClose: Int?
        let clientResidentDelta: Int
        var bytesPerConnection: Double { Double(residentAfter - residentBefore) / Double(max(established, 1)) }
        var marginalBytesPerConnection: Double { Double(residentAfter - residentHalfway) / Double(max(established - established / 2, 1)) }
    }

    func run() async throws -> Result {
        Report.heading("\(label): \(count) logged-in connections to a parley-server child process"
            + (hosts.count > 1 ? ", to \(hosts.joined(separator: ", ")) in turn" : ""))
        let password = hosts.count > 1 ? "bench-\(UInt64.random(in: 0...UInt64.max))" : BenchUser.password
        let directory = try makeTemporaryDirectory(in: dataRoot)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let users = try populate(directory: directory, password: password, crypto: crypto, random: random)

        let server = try ServerProcess(
            binary: serverBinary, dataDirectory: directory, host: hosts.count > 1 ? "0.0.0.0" : "127.0.0.1", maxConnections: max(20_000, count + 1_000))
        defer { server.terminate() }
        let (port, serverKey) = try await server.listening()
        try await Task.sleep(for: settle)
        let before = try server.resident()
        let clientBefore = Measurement.residentBytes(ofProcess: getpid()) ?? 0
        emit("server pid \(server.pid) on 127.0.0.1:\(port); VmRSS before: \(Report.bytes(before))")

        let release = Gate()
        let established = Counter()
        let failures = Counter()
        let firstError = Shared<String?>(nil)
        let slots = AsyncSemaphore(concurrentLogins)
        let started = Measurement.clock.now
        var residentHalfway = 0
        var residentAfter = 0
        var clientAfter = 0
        var stragglers = 0
        var loginSeconds = 0.0

        // Unstructured tasks, not a task group: a login that is never answered must not keep the
        // benchmark from finishing (see waitForAnswers).
        let finished = Counter()
        var attempted = 0
        do {
            for (index, user) in users.enumerated() {
                if let stop = stopAfterFailures, failures.current >= stop {
                    emit("stopped attempting after \(index) attempts: \(failures.current) logins failed (first: \(firstError.withLock { $0 } ?? "?"))")
                    break
                }
                // Out of descriptors, this process traps inside NIO: stop 256 short of the limit.
                if stopAfterFailures != nil, index % 64 == 0, let open = Self.openDescriptors(getpid()), open >= Self.descriptorLimit() - 256 {
                    emit("stopped attempting after \(index) attempts: this process has \(open) descriptors open of its limit \(Self.descriptorLimit()); "
                        + "the server \(Self.openDescriptors(server.pid).map(String.init) ?? "?")")
                    break
                }
                attempted = index + 1
                if index == users.count / 2 {
                    await Self.waitForAnswers(index, established: established, failures: failures)
                    try await Task.sleep(for: settle)
                    residentHalfway = try server.resident()
                    emit("after \(established.current) connections: VmRSS \(Report.bytes(residentHalfway))")
                }
                await slots.acquire()
                let host = hosts[index % hosts.count]
                Task {
                    defer { finished.add() }
                    do {
                        try await withWireClient(host: host, port: port, serverKey: serverKey, crypto: crypto, random: random) { wire in
                            try expectLoggedIn(await wire.request(.login(username: user, password: SecretBytes(copying: password.utf8))), "login of \(user)")
                            established.add()
                            slots.release()
                            await release.wait()
                        }
                    } catch {
                        failures.add()
                        firstError.withLock { if $0 == nil { $0 = "\(error)" } }
                        slots.release()
                    }
                }
            }
            stragglers = await Self.waitForAnswers(attempted, established: established, failures: failures)
            let elapsed = Measurement.seconds(Measurement.clock.now - started)
            loginSeconds = elapsed
            emit("logged in \(established.current) connections in \(Report.fixed(elapsed, 1)) s (\(failures.current) failed\(firstError.withLock { $0 }.map { ": \($0)" } ?? "")\(stragglers > 0 ? "; \(stragglers) logins still unanswered after 60 s" : ""))")
            try await Task.sleep(for: settle)
            residentAfter = try server.resident()
            clientAfter = Measurement.residentBytes(ofProcess: getpid()) ?? 0
            release.open()
            let deadline = Measurement.clock.now + .seconds(20)
            while finished.current < established.current + failures.current, Measurement.clock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await Task.sleep(for: settle)
        let afterClose = try? server.resident()
        let result = Result(
            count: attempted, established: established.current, failed: failures.current, firstError: firstError.withLock { $0 }, stragglers: stragglers,
            loginSeconds: loginSeconds, residentBefore: before, residentHalfway: residentHalfway,
            residentAfter: residentAfter, residentAfterClose: afterClose, clientResidentDelta: clientAfter - clientBefore)
        emit("after \(result.established) connections: VmRSS \(Report.bytes(residentAfter)); after closing them all: \(afterClose.map(Report.bytes) ?? "?")")
        let verdict = result.bytesPerConnection <= 12 * 1024 && result.established == count ? "met" : "MISSED"
        emit("=> server bytes per idle authenticated connection: \(Report.fixed(result.bytesPerConnection, 0)) overall, "
            + (residentHalfway > 0 ? "\(Report.fixed(result.marginalBytesPerConnection, 0)) marginal (second half)" : "no halfway figure (stopped before half)")
            + "; target <= 12288 (issue 11) -- \(verdict)")
        emit("   (the client side, for comparison: \(Report.fixed(Double(result.clientResidentDelta) / Double(max(result.established, 1)), 0)) bytes per connection in this process)")
        return result
    }

    /// How many descriptors `pid` has open (from /proc/PID/fd).
    static func openDescriptors(_ pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")).map(\.count)
    }

    static func descriptorLimit() -> Int {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }

    /// Waits until `count` logins have succeeded or failed, for at most 60 s; returns how many are
    /// still unanswered. (Not "until every task has finished": a request whose answer never comes
    /// can outlive WireClient's timeout, so waiting on the tasks could wait forever.)
    @discardableResult
    private static func waitForAnswers(_ count: Int, established: Counter, failures: Counter) async -> Int {
        let deadline = Measurement.clock.now + .seconds(60)
        while established.current + failures.current < count, Measurement.clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return max(0, count - established.current - failures.current)
    }

    /// Creates `count` accounts through SQLiteServerStore, with password hashes at Argon2id's minimum
    /// cost (a login verifies with the cost recorded in the hash string).
    private func populate(directory: String, password text: String, crypto: any CryptoProvider, random: SodiumRandomSource) throws -> [Username] {
        let started = Measurement.clock.now
        let store = try SQLiteServerStore(dataDirectory: directory)
        defer { store.close() }
        let hasher = Argon2idPasswordHasher(crypto: crypto, cost: .minimum)
        let password = SecretBytes(copying: text.utf8)
        // One hash for every account (a login verifies with the parameters in the hash string).
        let hash = try hasher.hash(password)
        let now = SystemWallClock().now()
        var names: [Username] = []
        for index in 0..<count {
            let name = try Username("idle\(index)")
            let identity = try crypto.generateEd25519KeyPair(using: random)
            try store.accounts.create(AccountRecord(username: name, passwordHash: hash, identityKey: identity.publicKey, createdAt: now))
            names.append(name)
        }
        emit("pre-populated \(count) accounts (Argon2id minimum cost) in \(Report.fixed(Measurement.seconds(Measurement.clock.now - started), 1)) s "
            + "in \(directory) -- \(filesystem(of: directory))")
        return names
    }
}

/// `parley-server` as a child process. Its key comes from `--print-key` and its port is chosen
/// here, so nothing depends on parsing its log (which goes to `server.log` in the data directory).
final class ServerProcess: Sendable {
    private let process: Process
    private let binary: String
    private let dataDirectory: String
    let port: Int
    let pid: Int32
    let key: X25519PublicKey

    /// Starts `binary`; with a `wrapper` (e.g. `valgrind --tool=callgrind ...`) the server runs
    /// under it, and ``pid`` is the wrapper's process (valgrind runs the program in its own).
    /// `extraArguments` are appended to the server's own (e.g. `--database URL --node-id a`);
    /// `host` is what it listens on, `maxConnections` its connection limits.
    init(
        binary: String, dataDirectory: String, wrapper: [String] = [], environment: [String: String] = [:], extraArguments: [String] = [],
        host: String = "127.0.0.1", maxConnections: Int = 20_000
    ) throws {
        self.binary = binary
        self.dataDirectory = dataDirectory
        port = try Self.freePort()
        key = try Self.printKey(binary: binary, dataDirectory: dataDirectory)
        let process = Process()
        let serverArguments = [
            "--data-dir", dataDirectory, "--host", host, "--port", "\(port)", "--max-connections", "\(maxConnections)",
            "--max-connections-per-address", "\(maxConnections)", "--logins-per-address", "1000000", "--login-queue", "100000",
            "--log-level", "notice", "--insecure-password-cost-for-benchmarks", "minimum",
        ] + extraArguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let tool = wrapper.first {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = Array(wrapper.dropFirst()) + [binary] + serverArguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = serverArguments
        }
        FileManager.default.createFile(atPath: dataDirectory + "/server.log", contents: nil)
        let log = FileHandle(forWritingAtPath: dataDirectory + "/server.log")
        process.standardError = log
        process.standardOutput = log
        try process.run()
        self.process = process
        pid = process.processIdentifier
    }

    /// Creates the server's key file (if missing) and returns its public key, before the server
    /// starts: run while the server starts, `--print-key` and the server could both create the
    /// file, and one of them read it half written (the server then exits: "not a 32-byte key").
    private static func printKey(binary: String, dataDirectory: String) throws -> X25519PublicKey {
        let keyProcess = Process()
        keyProcess.executableURL = URL(fileURLWithPath: binary)
        keyProcess.arguments = ["--data-dir", dataDirectory, "--print-key"]
        let output = Pipe()
        keyProcess.standardOutput = output
        try keyProcess.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        keyProcess.waitUntilExit()
        let hex = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Hex.decode(hex) else { throw BenchError.setup("parley-server --print-key printed \(hex)") }
        return try X25519PublicKey(bytes: bytes)
    }

    /// Waits until the server accepts TCP connections; returns the port and the server's key.
    func listening(within seconds: Int = 10) async throws -> (port: Int, key: X25519PublicKey) {
        for _ in 0..<(seconds * 20) {
            guard process.isRunning else { throw BenchError.setup("parley-server exited (status \(process.terminationStatus)); see its server.log") }
            if Self.accepts(port: port) { return (port, key) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError.setup("parley-server did not listen on port \(port) within \(seconds) s")
    }

    func resident() throws -> Int {
        guard let bytes = Measurement.residentBytes(ofProcess: pid) else { throw BenchError.unexpected("cannot read /proc/\(pid)/status") }
        return bytes
    }

    func terminate() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// The server's exit status after ``terminate()`` (0 after a clean SIGTERM shutdown).
    var terminationStatus: Int32 { process.terminationStatus }

    /// A port the kernel has just handed out for 127.0.0.1 (bound, then released).
    static func freePort() throws -> Int {
        do {
            return try LoopbackPort.free()
        } catch {
            throw BenchError.setup(error.description)
        }
    }

    /// Whether a TCP connect to 127.0.0.1:`port` succeeds (the probe connection is closed at once;
    /// the server drops it after its unauthenticated idle timeout).
    private static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// A counting semaphore for tasks.
final class AsyncSemaphore: Sendable {
    private let state: LockedValue<(available: Int, waiters: [CheckedContinuation<Void, Never>])>

    init(_ permits: Int) { state = LockedValue((permits, [])) }

    func acquire() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }

    /// Waits until all `permits` are free again (every holder has released).
    func waitForAll(_ permits: Int) async {
        for _ in 0..<permits { await acquire() }
        for _ in 0..<permits { release() }
    }
}
