import ClientCore
import Foundation
import Histogram
import Primitives
import SodiumCrypto
import Synchronization
import WireProtocol

/// The load generator for benchmarks 2 and 3: `pairs` sender connections and `pairs` recipient
/// connections over real TCP (NIOClientTransport, Noise XX, WireClient), each logged in (by
/// registering). Senders send pre-encrypted envelopes; recipients count the pushes and acknowledge
/// them in batches. It runs in the benchmark process or, for benchmark 2's second variant, in a
/// child process of its own.
struct RelayLoad: Sendable {
    enum Mode: Sendable {
        /// Each sender keeps `inFlight` sends outstanding, as fast as the server answers.
        case saturate(inFlight: Int)
        /// Each sender starts one send every 1/`perPairRate` s (open loop: a slow answer does not
        /// delay the next send), and every send's send->push latency is recorded.
        case paced(perPairRate: Double)
    }

    enum WindowEvent: Sendable { case start, end }

    struct Outcome: Sendable {
        var delivered = 0
        var accepted = 0
        var failed = 0
        var seconds = 0.0
        var firstError: String?
        /// CPU seconds this process used during the window (reported by a child-process client).
        var clientCPUSeconds: Double?
        /// Send->push latencies in nanoseconds (paced mode only).
        var latency: Histogram<UInt64>?
        var deliveredPerSecond: Double { Double(delivered) / seconds }
        var acceptedPerSecond: Double { Double(accepted) / seconds }
    }

    var pairs: Int
    var mode: Mode
    var warmup: Duration
    var duration: Duration
    var acknowledgeBatch = 256
    var envelopesPerPair = 512
    /// Distinguishes account names between runs against one server.
    var prefix = "b"
    /// Log in accounts that already exist (``populateRelayAccounts(_:directory:crypto:)``) instead of
    /// registering them: a real `parley-server` admits only a burst of registrations.
    var logIn = false
    /// Made before anything else (the envelopes take a while); nil makes fresh ones in ``run``.
    var preparedPairs: [BenchPair]?
    /// A second server (a node of the same cluster, with the same key): pair i's sender then
    /// connects to `port` and its recipient to this one when i is even, the other way round when
    /// i is odd, so that every message crosses from one node to the other.
    var otherNodePort: Int?

    /// Registers everyone, loads the server for `warmup`, then measures for `duration`.
    /// `onWindow` is called as the measured window starts and ends.
    func run(
        port: Int, serverKey: X25519PublicKey?, onWindow: @escaping @Sendable (WindowEvent) -> Void = { _ in },
        onResult: @escaping @Sendable (Outcome) -> Void = { _ in }
    ) async throws -> Outcome {
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let pairs = try preparedPairs ?? makePairs(crypto: crypto, random: random)
        let state = LoadState(connections: 2 * pairs.count)
        let outcome = Shared(Outcome())

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, pair) in pairs.enumerated() {
                let (senderPort, recipientPort) = otherNodePort.map { other in index % 2 == 0 ? (port, other) : (other, port) } ?? (port, port)
                group.addTask {
                    try await state.failingOpensGates {
                        try await withWireClient(port: recipientPort, serverKey: serverKey, crypto: crypto, random: random) { wire in
                            try await receive(as: pair.recipient, on: wire, state: state)
                        }
                    }
                }
                group.addTask {
                    try await state.failingOpensGates {
                        try await withWireClient(port: senderPort, serverKey: serverKey, crypto: crypto, random: random) { wire in
                            try await send(pair, on: wire, state: state)
                        }
                    }
                }
            }
            group.addTask {
                await state.registered.wait()
                guard !state.stop.isOpen else { return }
                try await Task.sleep(for: warmup)
                let startInstant = Measurement.clock.now
                state.windowStart.withLock { $0 = startInstant }
                let delivered0 = state.delivered.current
                let accepted0 = state.accepted.current
                let failed0 = state.failed.current
                let cpu0 = Measurement.processCPUSeconds()
                onWindow(.start)
                try await Task.sleep(for: duration)
                let cpu1 = Measurement.processCPUSeconds()
                let delivered1 = state.delivered.current
                let accepted1 = state.accepted.current
                let failed1 = state.failed.current
                let elapsed = Measurement.clock.now - startInstant
                onWindow(.end)
                state.windowOpen.store(false, ordering: .relaxed)
                state.stop.open()
                let measured = outcome.withLock { outcome -> Outcome in
                    outcome.delivered = delivered1 - delivered0
                    outcome.accepted = accepted1 - accepted0
                    outcome.failed = failed1 - failed0
                    outcome.seconds = Measurement.seconds(elapsed)
                    outcome.clientCPUSeconds = cpu1 - cpu0
                    outcome.firstError = state.firstError.withLock { $0 }
                    return outcome
                }
                onResult(measured)
            }
            try await group.waitForAll()
        }
        return outcome.withLock { outcome in
            outcome.firstError = state.firstError.withLock { $0 }
            if case .paced = mode { outcome.latency = state.latency.withLock { $0 } }
            return outcome
        }
    }

    /// The pairs this load sends between.
    func makePairs(crypto: any CryptoProvider, random: SodiumRandomSource) throws -> [BenchPair] {
        try (0..<pairs).map { index in
            try BenchPair.make(index: index, prefix: prefix, envelopes: envelopesPerPair, crypto: crypto, random: random)
        }
    }

    private func authenticate(_ user: BenchUser, on wire: WireClient) async throws {
        if logIn {
            try expectLoggedIn(await wire.request(.login(username: user.name, password: user.password)), "logging in \(user.name)")
        } else {
            try expectLoggedIn(await wire.request(user.registration), "registering \(user.name)")
        }
    }

    private func receive(as user: BenchUser, on wire: WireClient, state: LoadState) async throws {
        try await authenticate(user, on: wire)
        state.didRegister()
        let batch = acknowledgeBatch
        let consumer = Task {
            var ids: [UInt64] = []
            ids.reserveCapacity(batch)
            for await push in wire.pushes {
                guard case .delivery(let delivery) = push else { continue }
                state.delivered.add()
                state.recordLatency(of: delivery.envelope)
                ids.append(delivery.id)
                if ids.count >= batch {
                    let acknowledged = ids
                    ids.removeAll(keepingCapacity: true)
                    Task { _ = try? await wire.request(.acknowledge(ids: acknowledged)) }
                }
            }
        }
        await state.stop.wait()
        await wire.close()
        await consumer.value
    }

    private func send(_ pair: BenchPair, on wire: WireClient, state: LoadState) async throws {
        try await authenticate(pair.sender, on: wire)
        state.didRegister()
        await state.registered.wait()
        let recipient = pair.recipient.name
        let identity = pair.recipient.identity.publicKey
        let envelopes = pair.envelopes
        @Sendable func sendOne(_ envelope: [UInt8]) async -> Bool {
            do {
                let answer = try await wire.request(.send(recipient: recipient, recipientIdentity: identity, envelope: envelope))
                if case .accepted = answer {
                    state.accepted.add()
                } else {
                    state.fail("send answered with \(answer)")
                }
                return true
            } catch {
                state.fail("send failed: \(error)")
                return false
            }
        }
        switch mode {
        case .saturate(let inFlight):
            await withTaskGroup(of: Void.self) { workers in
                for worker in 0..<inFlight {
                    workers.addTask {
                        var index = worker
                        while !state.stop.isOpen {
                            guard await sendOne(envelopes[index % envelopes.count]) else { return }
                            index += inFlight
                        }
                    }
                }
            }
        case .paced(let rate):
            let interval = Duration.seconds(1 / rate)
            // Stagger the pairs across one interval so that their sends do not arrive in bursts.
            var next = Measurement.clock.now + interval * Double(random(upTo: 1000)) / 1000
            var index = 0
            await withDiscardingTaskGroup { sends in
                while !state.stop.isOpen {
                    try? await Task.sleep(until: next, clock: Measurement.clock)
                    next += interval
                    let envelope = envelopes[index % envelopes.count]
                    index += 1
                    state.markSent(envelope)
                    sends.addTask { _ = await sendOne(envelope) }
                }
            }
        }
    }

    private func random(upTo bound: UInt32) -> UInt32 { UInt32.random(in: 0..<bound) }
}

/// What the load's connections share.
final class LoadState: Sendable {
    let connections: Int
    let registered = Gate()
    let stop = Gate()
    let delivered = Counter()
    let accepted = Counter()
    let failed = Counter()
    let firstError = LockedValue<String?>(nil)
    let windowStart = LockedValue<ContinuousClock.Instant?>(nil)
    let windowOpen = Atomic<Bool>(true)
    let latency = LockedValue(Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three))
    private let registrations = Counter()
    /// Send instants of envelopes in flight, keyed by the envelope's last 16 bytes (its AEAD tag).
    private let sentAt = LockedValue<[EnvelopeKey: ContinuousClock.Instant]>([:])

    init(connections: Int) { self.connections = connections }

    func didRegister() {
        registrations.add()
        if registrations.current == connections { registered.open() }
    }

    func fail(_ reason: String) {
        failed.add()
        firstError.withLock { if $0 == nil { $0 = reason } }
    }

    func markSent(_ envelope: [UInt8]) {
        let now = Measurement.clock.now
        sentAt.withLock { $0[EnvelopeKey(envelope)] = now }
    }

    /// Records the send->push latency of a delivery whose send was marked, if it was sent within
    /// the measured window.
    func recordLatency(of envelope: [UInt8]) {
        let now = Measurement.clock.now
        guard let sent = sentAt.withLock({ $0.removeValue(forKey: EnvelopeKey(envelope)) }) else { return }
        guard windowOpen.load(ordering: .relaxed), let start = windowStart.withLock({ $0 }), sent >= start else { return }
        let nanoseconds = UInt64(max(0, Measurement.seconds(now - sent) * 1e9))
        latency.withLock { _ = $0.record(nanoseconds) }
    }

    /// Runs `body`; if it fails, opens the gates so nobody waits forever, and rethrows.
    func failingOpensGates(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            fail("\(error)")
            registered.open()
            stop.open()
            throw error
        }
    }
}

/// The last 16 bytes of an envelope (its AEAD tag): unique per encrypted message.
struct EnvelopeKey: Hashable, Sendable {
    let high: UInt64
    let low: UInt64

    init(_ envelope: [UInt8]) {
        precondition(envelope.count >= 16)
        var high: UInt64 = 0
        var low: UInt64 = 0
        let base = envelope.count - 16
        for offset in 0..<8 {
            high = high << 8 | UInt64(envelope[base + offset])
            low = low << 8 | UInt64(envelope[base + 8 + offset])
        }
        self.high = high
        self.low = low
    }
}
