import Accounts
import Foundation
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

    struct Result {
        let count: Int
        let established: Int
        let residentBefore: Int
        let residentHalfway: Int
        let residentAfter: Int
        let residentAfterClose: Int?
        let clientResidentDelta: Int
        var bytesPerConnection: Double { Double(residentAfter - residentBefore) / Double(max(established, 1)) }
        var marginalBytesPerConnection: Double { Double(residentAfter - residentHalfway) / Double(max(established - established / 2, 1)) }
    }

    func run() async throws -> Result {
        Report.heading("4. idle connections: \(count) logged-in connections to a parley-server child process")
        let directory = try makeTemporaryDirectory(in: dataRoot)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let users = try populate(directory: directory, crypto: crypto, random: random)

        let server = try ServerProcess(binary: serverBinary, dataDirectory: directory)
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

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, user) in users.enumerated() {
                if index == users.count / 2 {
                    await slots.waitForAll(concurrentLogins)
                    try await Task.sleep(for: settle)
                    residentHalfway = try server.resident()
                    emit("after \(established.current) connections: VmRSS \(Report.bytes(residentHalfway))")
                }
                await slots.acquire()
                group.addTask {
                    do {
                        try await withWireClient(port: port, serverKey: serverKey, crypto: crypto, random: random) { wire in
                            try expectLoggedIn(await wire.request(.login(username: user, password: SecretBytes(copying: BenchUser.password.utf8))), "login of \(user)")
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
            await slots.waitForAll(concurrentLogins)
            let elapsed = Measurement.seconds(Measurement.clock.now - started)
            emit("logged in \(established.current) connections in \(Report.fixed(elapsed, 1)) s (\(failures.current) failed\(firstError.withLock { $0 }.map { ": \($0)" } ?? ""))")
            try await Task.sleep(for: settle)
            residentAfter = try server.resident()
            clientAfter = Measurement.residentBytes(ofProcess: getpid()) ?? 0
            release.open()
            try await group.waitForAll()
        }
        try await Task.sleep(for: settle)
        let afterClose = try? server.resident()
        let result = Result(
            count: count, established: established.current, residentBefore: before, residentHalfway: residentHalfway,
            residentAfter: residentAfter, residentAfterClose: afterClose, clientResidentDelta: clientAfter - clientBefore)
        emit("after \(result.established) connections: VmRSS \(Report.bytes(residentAfter)); after closing them all: \(afterClose.map(Report.bytes) ?? "?")")
        let verdict = result.bytesPerConnection < 16 * 1024 && result.established == count ? "met" : "MISSED"
        emit("=> server bytes per idle authenticated connection: \(Report.fixed(result.bytesPerConnection, 0)) overall, "
            + "\(Report.fixed(result.marginalBytesPerConnection, 0)) marginal (second half); target < 16384 -- \(verdict)")
        emit("   (the client side, for comparison: \(Report.fixed(Double(result.clientResidentDelta) / Double(max(result.established, 1)), 0)) bytes per connection in this process)")
        return result
    }

    /// Creates `count` accounts through SQLiteServerStore, with password hashes at Argon2id's minimum
    /// cost (a login verifies with the cost recorded in the hash string).
    private func populate(directory: String, crypto: any CryptoProvider, random: SodiumRandomSource) throws -> [Username] {
        let started = Measurement.clock.now
        let store = try SQLiteServerStore(dataDirectory: directory)
        defer { store.close() }
        let hasher = Argon2idPasswordHasher(crypto: crypto, cost: .minimum)
        let password = SecretBytes(copying: BenchUser.password.utf8)
        let now = SystemWallClock().now()
        var names: [Username] = []
        for index in 0..<count {
            let name = try Username("idle\(index)")
            let identity = try crypto.generateEd25519KeyPair(using: random)
            try store.accounts.create(AccountRecord(username: name, passwordHash: try hasher.hash(password), identityKey: identity.publicKey, createdAt: now))
            names.append(name)
        }
        emit("pre-populated \(count) accounts (Argon2id minimum cost) in \(Report.fixed(Measurement.seconds(Measurement.clock.now - started), 1)) s "
            + "in \(directory) -- \(filesystem(of: directory))")
        return names
    }
}

/// `parley-server` as a child process, its stderr (the log) read on a thread of its own.
final class ServerProcess: Sendable {
    private let process: Process
    private let lines: LineReader
    let pid: Int32

    init(binary: String, dataDirectory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--data-dir", dataDirectory, "--host", "127.0.0.1", "--port", "0", "--max-connections", "20000",
            "--log-level", "notice", "--insecure-password-cost-for-benchmarks", "minimum",
        ]
        let log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        pid = process.processIdentifier
        lines = LineReader(log.fileHandleForReading)
    }

    /// Waits for the "listening" line; returns the port and the server's key. Keeps draining the
    /// log afterwards so the server never blocks on a full pipe.
    func listening() async throws -> (port: Int, key: X25519PublicKey) {
        while let line = await lines.next() {
            guard line.contains("listening"), let port = Self.field("address", in: line)?.split(separator: ":").last.flatMap({ Int($0) }),
                  let keyHex = Self.field("key", in: line), let keyBytes = Hex.decode(keyHex) else { continue }
            let lines = self.lines
            Task { while await lines.next() != nil {} }
            return (port, try X25519PublicKey(bytes: keyBytes))
        }
        throw BenchError.setup("parley-server exited before listening (status \(process.isRunning ? -1 : process.terminationStatus))")
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

    private static func field(_ name: String, in line: String) -> String? {
        guard let range = line.range(of: name + "=") else { return nil }
        return String(line[range.upperBound...].prefix { !$0.isWhitespace })
    }
}

/// A counting semaphore for tasks.
final class AsyncSemaphore: Sendable {
    private let state: Mutex<(available: Int, waiters: [CheckedContinuation<Void, Never>])>

    init(_ permits: Int) { state = Mutex((permits, [])) }

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
