import Accounts
import Foundation
import Primitives
import SQLiteStore
import ServerCore
import SodiumCrypto
import SystemClock
import WireProtocol

/// Benchmark `growth` (issue 11): does a large backlog slow the server down? The real
/// `parley-server` binary as a child process, on a database that holds either nothing
/// ("empty") or `backlog` envelopes queued for `offline` recipients who never log in ("queued";
/// issue 11: 100,000 for 1,000). The two conditions alternate (empty, queued, empty, ...), each on
/// a fresh database and server, and each run measures the same three things:
///
/// 1. **Enqueue**: `senders` connections send `enqueues` envelopes (`inFlight` outstanding per
///    connection), round robin over the offline recipients, so in the queued condition every send
///    joins a queue that already holds `backlog / offline` envelopes. Reported: accepted per second
///    and the server's CPU (utime + stime) per accepted envelope.
/// 2. **Catch-up at login**: `probes` other recipients, each with `probeQueue` envelopes waiting
///    (the same in both conditions; put in before the server starts), log in (`senders` at a time)
///    and receive everything; envelopes delivered per second from the first login to the last
///    delivery, and server CPU per delivered envelope.
/// 3. **Server memory**: the server's VmRSS after both phases (and after start).
///
/// The backlog is written straight through `SQLiteServerStore` before the server starts (batches
/// of 1,000, one transaction each), which is what the server's writer would have stored.
struct GrowthBenchmark {
    var runs: Int
    var offline: Int
    var backlog: Int
    var senders: Int
    var inFlight: Int
    var enqueues: Int
    var probes: Int
    var probeQueue: Int
    var dataRoot: String
    var serverBinary: String

    struct RunResult {
        var enqueuePerSecond: Double
        var enqueueCPUMicroseconds: Double
        var catchUpPerSecond: Double
        var catchUpCPUMicroseconds: Double
        var residentAfterStart: Int
        var residentAfter: Int
    }

    func run() async throws {
        Report.heading("growth: \(backlog) envelopes queued for \(offline) offline recipients vs an empty queue; parley-server as a child process, "
            + "\(runs) runs each, alternating")
        emit("enqueue: \(senders) senders x \(enqueues / senders) sends (\(inFlight) in flight each) round robin over the \(offline) offline recipients; "
            + "catch-up: \(probes) recipients with \(probeQueue) envelopes each log in (\(senders) at a time); database: \(dataRoot) -- \(filesystem(of: dataRoot))")
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        var empty: [RunResult] = []
        var queued: [RunResult] = []
        for index in 0..<runs {
            for withBacklog in [false, true] {
                let result = try await measure(withBacklog: withBacklog, crypto: crypto, random: random)
                emit("  \(withBacklog ? "queued" : "empty ") run \(index + 1): enqueue \(Report.fixed(result.enqueuePerSecond, 0))/s "
                    + "(\(Report.fixed(result.enqueueCPUMicroseconds, 1)) us server CPU each), catch-up \(Report.fixed(result.catchUpPerSecond, 0))/s "
                    + "(\(Report.fixed(result.catchUpCPUMicroseconds, 1)) us each), server VmRSS \(Report.bytes(result.residentAfterStart)) after start, "
                    + "\(Report.bytes(result.residentAfter)) after both phases")
                if withBacklog { queued.append(result) } else { empty.append(result) }
            }
        }
        func record(_ name: String, _ unit: String, _ value: (RunResult) -> Double, target: String?) {
            let base = Measurement.median(empty.map(value))
            let samples = queued.map(value)
            BenchResults.record(ScenarioResult(
                name: "growth.\(name)", unit: unit, samples: samples, baseline: base, baselineName: "empty queue, same run", target: target))
            emit("  => \(name): queued \(Report.fixed(Measurement.median(samples), 1)) vs empty \(Report.fixed(base, 1)) \(unit): "
                + "ratio \(Report.fixed(Measurement.median(samples) / base, 3))")
        }
        record("enqueue_per_second", "envelopes/s", \.enqueuePerSecond, target: "ratio >= 0.8")
        record("enqueue_server_cpu_per_envelope", "us", \.enqueueCPUMicroseconds, target: "ratio <= 1.2")
        record("catch_up_per_second", "envelopes/s", \.catchUpPerSecond, target: "ratio >= 0.8")
        record("catch_up_server_cpu_per_envelope", "us", \.catchUpCPUMicroseconds, target: "ratio <= 1.2")
        record("server_rss_after", "bytes", { Double($0.residentAfter) }, target: "ratio <= 1.2")
    }

    private func measure(withBacklog: Bool, crypto: SodiumCryptoProvider, random: SodiumRandomSource) async throws -> RunResult {
        let directory = try makeTemporaryDirectory(in: dataRoot)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let accounts = try populate(directory: directory, withBacklog: withBacklog, crypto: crypto, random: random)
        let server = try await startServerProcess(binary: serverBinary, directory: directory)
        defer { server.terminate() }
        let (port, key) = (server.port, server.key)
        try await Task.sleep(for: .milliseconds(500))
        let residentAfterStart = try server.resident()

        // 1. Enqueue.
        let accepted = Counter()
        let failures = Shared<String?>(nil)
        let perSender = enqueues / senders
        let payload = [UInt8](repeating: 0x5a, count: 300)
        let cpu0 = Measurement.cpuSeconds(ofProcess: server.pid) ?? 0
        let started = Measurement.clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for senderIndex in 0..<senders {
                let sender = accounts.senders[senderIndex]
                group.addTask {
                    try await withWireClient(port: port, serverKey: key, crypto: crypto, random: random) { wire in
                        try expectLoggedIn(await wire.request(.login(username: sender, password: SecretBytes(copying: BenchUser.password.utf8))), "login of \(sender)")
                        await withTaskGroup(of: Void.self) { workers in
                            for worker in 0..<inFlight {
                                workers.addTask {
                                    var index = worker
                                    while index < perSender {
                                        let recipient = accounts.offline[(senderIndex + index * senders) % accounts.offline.count]
                                        do {
                                            let answer = try await wire.request(.send(recipient: recipient.name, recipientIdentity: recipient.identity, envelope: payload))
                                            if case .accepted = answer { accepted.add() } else { failures.withLock { if $0 == nil { $0 = "send answered \(answer)" } } }
                                        } catch {
                                            failures.withLock { if $0 == nil { $0 = "send failed: \(error)" } }
                                            return
                                        }
                                        index += inFlight
                                    }
                                }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let enqueueSeconds = Measurement.seconds(Measurement.clock.now - started)
        let cpu1 = Measurement.cpuSeconds(ofProcess: server.pid) ?? 0
        if let failure = failures.withLock({ $0 }) { throw BenchError.unexpected("growth enqueue: \(failure)") }

        // 2. Catch-up at login.
        let delivered = Counter()
        let slots = AsyncSemaphore(senders)
        let catchUpStarted = Measurement.clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for probe in accounts.probes {
                await slots.acquire()
                group.addTask {
                    defer { slots.release() }
                    try await withWireClient(port: port, serverKey: key, crypto: crypto, random: random) { wire in
                        let want = probeQueue
                        let consumer = Task { () -> Int in
                            var count = 0
                            var ids: [UInt64] = []
                            for await push in wire.pushes {
                                guard case .delivery(let delivery) = push else { continue }
                                count += 1
                                delivered.add()
                                ids.append(delivery.id)
                                if ids.count >= 256 || count == want {
                                    let acknowledged = ids
                                    ids.removeAll(keepingCapacity: true)
                                    Task { _ = try? await wire.request(.acknowledge(ids: acknowledged)) }
                                }
                                if count == want { break }
                            }
                            return count
                        }
                        try expectLoggedIn(await wire.request(.login(username: probe, password: SecretBytes(copying: BenchUser.password.utf8))), "login of \(probe)")
                        let got = await withTaskGroup(of: Int?.self) { race in
                            race.addTask { await consumer.value }
                            race.addTask { try? await Task.sleep(for: .seconds(60)); return nil }
                            let first = await race.next() ?? nil
                            race.cancelAll()
                            consumer.cancel()
                            return first
                        }
                        guard got == want else { throw BenchError.unexpected("catch-up of \(probe): \(got.map { "\($0)" } ?? "nothing within 60 s") of \(want)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let catchUpSeconds = Measurement.seconds(Measurement.clock.now - catchUpStarted)
        let cpu2 = Measurement.cpuSeconds(ofProcess: server.pid) ?? 0
        try await Task.sleep(for: .milliseconds(500))
        let residentAfter = try server.resident()
        return RunResult(
            enqueuePerSecond: Double(accepted.current) / enqueueSeconds, enqueueCPUMicroseconds: (cpu1 - cpu0) / Double(max(accepted.current, 1)) * 1e6,
            catchUpPerSecond: Double(delivered.current) / catchUpSeconds, catchUpCPUMicroseconds: (cpu2 - cpu1) / Double(max(delivered.current, 1)) * 1e6,
            residentAfterStart: residentAfterStart, residentAfter: residentAfter)
    }

    struct Recipient: Sendable {
        let name: Username
        let identity: Ed25519PublicKey
    }

    struct Population: Sendable {
        var senders: [Username] = []
        var offline: [Recipient] = []
        var probes: [Username] = []
    }

    /// The accounts (one password hash at Argon2id's minimum cost, shared: a login verifies with
    /// the parameters in the hash string), the probes' queues and, with `withBacklog`, the backlog.
    private func populate(directory: String, withBacklog: Bool, crypto: any CryptoProvider, random: SodiumRandomSource) throws -> Population {
        let started = Measurement.clock.now
        let store = try SQLiteServerStore(dataDirectory: directory)
        defer { store.close() }
        let hash = try Argon2idPasswordHasher(crypto: crypto, cost: .minimum).hash(SecretBytes(copying: BenchUser.password.utf8))
        let now = SystemWallClock().now()
        var accounts = Population()
        func create(_ name: String) throws -> Recipient {
            let username = try Username(name)
            let identity = try crypto.generateEd25519KeyPair(using: random).publicKey
            try store.accounts.create(AccountRecord(username: username, passwordHash: hash, identityKey: identity, createdAt: now))
            return Recipient(name: username, identity: identity)
        }
        accounts.senders = try (0..<senders).map { try create("gs\($0)").name }
        accounts.offline = try (0..<offline).map { try create("go\($0)") }
        accounts.probes = try (0..<probes).map { try create("gp\($0)").name }
        var drafts: [MailboxEnvelopeDraft] = []
        func flush() throws {
            guard !drafts.isEmpty else { return }
            let outcomes = try store.mailbox.enqueue(drafts)
            guard outcomes.allSatisfy({ if case .accepted = $0 { true } else { false } }) else {
                throw BenchError.setup("the backlog was refused: \(outcomes.first { if case .accepted = $0 { false } else { true } }!)")
            }
            drafts.removeAll(keepingCapacity: true)
        }
        func queue(from sender: Username, to recipient: Username, index: Int) throws {
            var payload = [UInt8](repeating: 0, count: 300)
            withUnsafeBytes(of: UInt64(index).littleEndian) { payload.replaceSubrange(0..<8, with: $0) }
            drafts.append(MailboxEnvelopeDraft(sender: sender, recipient: recipient, payload: payload, acceptedAt: now))
            if drafts.count == 1_000 { try flush() }
        }
        for probe in 0..<probes {
            for index in 0..<probeQueue { try queue(from: accounts.senders[index % senders], to: accounts.probes[probe], index: index) }
        }
        if withBacklog {
            for index in 0..<backlog {
                try queue(from: accounts.senders[(index / offline) % senders], to: accounts.offline[index % offline].name, index: index)
            }
        }
        try flush()
        emit("  (populated \(senders + offline + probes) accounts, \(probes * probeQueue + (withBacklog ? backlog : 0)) envelopes in "
            + "\(Report.fixed(Measurement.seconds(Measurement.clock.now - started), 1)) s)")
        return accounts
    }
}
