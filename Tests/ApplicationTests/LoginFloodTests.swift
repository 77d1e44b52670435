import ClientCore
import Foundation
import Prekeys
import Primitives
import SecureChannel
import ServerCore
import Synchronization
import Testing
import WireProtocol

/// Finding 1 of the security review: an unauthenticated login flood must not stall anyone else.
///
/// This is the one test that asserts latencies, because the fix is about latency. To hold on a
/// loaded 2-core machine it measures its own unloaded baseline first, compares percentiles (not
/// single samples) with a floor under the baseline, bounds every loop and wait, and keeps the
/// Argon2id cost small (8 MiB, one pass: about 10 ms) while still making a queued hash cost time.
@Suite("Login flood", .shutsDownConnections, .timeLimit(.minutes(2)))
struct LoginFloodTests {
    static let floodCost = Argon2Cost(operations: 1, memoryBytes: 8 << 20)
    /// Attacking source addresses, and connections from each.
    static let addresses = 64
    static let connectionsPerAddress = 4
    /// Round trips measured per phase, one every 10 ms or so (about 2 s of flood).
    static let samples = 200
    /// Below this a p99 is scheduler noise on a shared, loaded machine (other builds make a 2-core
    /// machine's own p99 swing between 1 and 15 ms), not a measurement of the server. Without the
    /// fix the flood's p99 is seconds.
    static let latencyFloor: Duration = .milliseconds(20) * sanitizerSlowdown
    /// How much slower this build runs than a plain debug build: 10 under AddressSanitizer or
    /// ThreadSanitizer (`make asan`/`make tsan` set `PARLEY_SANITIZER`; measured 2-15x), else 1.
    /// The absolute bounds (the floor, carol's 2 s) are scaled by it; the 2x ratio against the
    /// baseline measured in the same run is not. Under the sanitizers this test checks what they
    /// check (the flood's code paths, for leaks and races) more than the latency itself.
    static let sanitizerSlowdown = ProcessInfo.processInfo.environment["PARLEY_SANITIZER"] == nil ? 1 : 10

    @Test("a flood of failed logins from many connections leaves a logged-in user's send/receive p99 within 2x of the unloaded one and a real login under 2 s")
    func floodOfFailedLoginsStallsNobodyElse() async throws {
        var configuration = ServerConfiguration()
        // Twelve times laxer than the default per-address limit, so that 64 addresses keep the
        // hashing pool busy for the whole measurement instead of being throttled within a second.
        configuration.authenticationAttemptsPerAddress = AddressRateLimit(burst: 10, refillInterval: .milliseconds(500))
        // One hashing thread: on a 2-core machine a server sized like this keeps a core for
        // everything else, which is what the pool's own threads make possible.
        configuration.maxConcurrentPasswordHashes = 1
        let world = try TestWorld(configuration: configuration, passwordCost: Self.floodCost)
        let wires = WireConnections(world: world)
        defer { wires.closeAll() }

        // The victim pair, logged in before anything happens, and a third user who will log in
        // during the flood.
        let alice = try wires.connect(from: SourceAddress("198.51.100.1"))
        let bob = try wires.connect(from: SourceAddress("198.51.100.2"))
        let aliceRegistration = try Registration(name: "alice", world: world)
        let bobRegistration = try Registration(name: "bob", world: world)
        let carolRegistration = try Registration(name: "carol", world: world)
        #expect(try await alice.request(aliceRegistration.request) == .loggedIn(pending: 0))
        #expect(try await bob.request(bobRegistration.request) == .loggedIn(pending: 0))
        let carolSetup = try wires.connect(from: SourceAddress("198.51.100.3"))
        #expect(try await carolSetup.request(carolRegistration.request) == .loggedIn(pending: 0))
        await carolSetup.close()
        let deliveries = Deliveries(bob)

        let unloaded = try await Self.roundTrips(from: alice, to: bobRegistration, deliveries: deliveries, startingAt: 0)

        // The flood: 256 connections from 64 addresses, each sending a failed login for a name
        // that does not exist 25-75 ms after the previous one was answered.
        let stop = StopFlag()
        let answers = AnswerCounts()
        let attackers = try (0..<Self.addresses).flatMap { address in
            try (0..<Self.connectionsPerAddress).map { _ in try wires.connect(from: SourceAddress("203.0.113.\(address)")) }
        }
        let flood = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, attacker) in attackers.enumerated() {
                    group.addTask {
                        var attempt = 0
                        while !stop.isSet, attempt < 2_000 {
                            attempt += 1
                            let login = Request.Body.login(username: name("nobody\(index)"), password: password("wrong password \(attempt)"))
                            guard let answer = try? await attacker.request(login) else { return }
                            answers.record(answer)
                            // Paced (about 5,000 attempts a second in all) and jittered, so the
                            // connections do not fire in lockstep bursts of 256.
                            try? await Task.sleep(for: .milliseconds(Int.random(in: 100...300)))
                        }
                    }
                }
            }
        }
        // Until the pool is saturated: hashes have run and the queue has refused some.
        let rampDeadline = ContinuousClock.now + .seconds(10)
        while (answers.count(.busy) == 0 || answers.count(.invalidCredentials) < 20), ContinuousClock.now < rampDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }

        // The flood's p99, measured again once if the first measurement is over the bound, so that
        // one burst of load from elsewhere on the machine does not decide the test.
        let unloadedP99 = Self.percentile99(unloaded)
        let bound = max(unloadedP99, Self.latencyFloor) * 2
        var loadedP99 = Self.percentile99(
            try await Self.roundTrips(from: alice, to: bobRegistration, deliveries: deliveries, startingAt: UInt64(Self.samples)))
        if loadedP99 > bound {
            loadedP99 = min(loadedP99, Self.percentile99(
                try await Self.roundTrips(from: alice, to: bobRegistration, deliveries: deliveries, startingAt: UInt64(2 * Self.samples))))
        }

        // A real user logs in meanwhile, from an address of their own, retrying while told busy.
        let carol = try wires.connect(from: SourceAddress("198.51.100.4"))
        let loginStarted = ContinuousClock.now
        var carolAnswer = try await carol.request(carolRegistration.login)
        while case .error(let error) = carolAnswer, error.code == .busy, ContinuousClock.now - loginStarted < .seconds(2) * Self.sanitizerSlowdown {
            try await Task.sleep(for: .milliseconds(100))
            carolAnswer = try await carol.request(carolRegistration.login)
        }
        let loginTime = ContinuousClock.now - loginStarted
        let stillFlooding = !stop.isSet

        stop.set()
        wires.closeAll()
        await flood.value

        let tally = "answers to the flood: \(answers.summary)"
        #expect(stillFlooding)
        #expect(answers.count(.invalidCredentials) >= 20, "the flood's logins were checked (\(tally))")
        #expect(answers.count(.busy) > 0, "the hashing queue refused some logins with busy (\(tally))")
        #expect(loadedP99 <= bound, "send/receive p99 \(loadedP99) under the flood vs \(unloadedP99) unloaded (bound \(bound)); \(tally)")
        #expect(carolAnswer == .loggedIn(pending: 0), "carol's login under the flood: \(carolAnswer)")
        #expect(loginTime < .seconds(2) * Self.sanitizerSlowdown, "carol's login took \(loginTime)")
    }

    /// Times `samples` sends from `sender` to `recipient`, each until its delivery is pushed;
    /// a round trip that takes longer than 5 s counts as 5 s (and the phase ends after 6 s).
    static func roundTrips(from sender: WireClient, to recipient: Registration, deliveries: Deliveries, startingAt first: UInt64) async throws -> [Duration] {
        var times: [Duration] = []
        let phaseDeadline = ContinuousClock.now + .seconds(6)
        for counter in first..<first + UInt64(samples) where ContinuousClock.now < phaseDeadline {
            let payload = (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64($0))) }
            let started = ContinuousClock.now
            let send = Request.Body.send(recipient: recipient.username, recipientIdentity: recipient.identityKey, envelope: payload)
            let answer = try await sender.request(send)
            guard case .accepted = answer else {
                Issue.record("send \(counter) was answered \(answer)")
                return times
            }
            let arrived = await deliveries.wait(for: payload, until: started + .seconds(5))
            times.append(arrived ? ContinuousClock.now - started : .seconds(5))
            try await Task.sleep(for: .milliseconds(10))
        }
        return times
    }

    static func percentile99(_ times: [Duration]) -> Duration {
        guard !times.isEmpty else { return .seconds(3600) }
        let sorted = times.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
    }
}

/// A registration at the wire level: fresh keys with a validly signed prekey.
struct Registration: Sendable {
    let username: Username
    let identityKey: Ed25519PublicKey
    let request: Request.Body
    let login: Request.Body

    init(name raw: String, world: TestWorld) throws {
        let identity = try world.crypto.generateEd25519KeyPair(using: world.random)
        let signedKey = try world.crypto.generateX25519KeyPair(using: world.random)
        let signature = try world.crypto.sign(SignedPrekey.signedMessage(id: 1, publicKey: signedKey.publicKey), with: identity.secretKey)
        let oneTime = try (1...5).map { OneTimePrekey(id: UInt32($0), publicKey: try world.crypto.generateX25519KeyPair(using: world.random).publicKey) }
        username = name(raw)
        identityKey = identity.publicKey
        request = .register(
            username: username, password: password(), identityKey: identity.publicKey,
            identitySignature: try IdentityBinding.sign(username: username, with: identity, crypto: world.crypto),
            signedPrekey: SignedPrekey(id: 1, publicKey: signedKey.publicKey, signature: signature), oneTimePrekeys: oneTime)
        login = .login(username: username, password: password())
    }
}

/// Raw wire clients connected to a ``TestWorld``'s server from chosen source addresses.
final class WireConnections: Sendable {
    private let world: TestWorld
    private let open = LockedValue<[(WireClient, [Task<Void, Never>])]>([])
    private let nextID = Atomic<UInt64>(1_000_000)
    private let requestTimeout: Duration

    /// - Parameter requestTimeout: how long a request may wait for its answer (the flood's 5 s by
    ///   default; suites run with the whole main pass need more, as logins hash at a lower
    ///   priority than everything else the loaded machine runs).
    init(world: TestWorld, requestTimeout: Duration = .seconds(5)) {
        self.world = world
        self.requestTimeout = requestTimeout
    }

    func connect(from address: SourceAddress?) throws -> WireClient {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let clientKey = try world.crypto.generateX25519KeyPair(using: world.random)
        let (clientEnd, serverEnd) = InMemoryConnection.pair(
            id: id, serverKey: world.serverKey.publicKey, clientKey: clientKey.publicKey, clientAddress: address)
        let server = world.server
        let serverTask = Task { await serverEnd.0.serve(server, inbound: serverEnd.1) }
        let wire = WireClient(connection: clientEnd.0, requestTimeout: requestTimeout * LoginFloodTests.sanitizerSlowdown)
        let wireTask = Task { await wire.run(inbound: clientEnd.1) }
        open.withLock { $0.append((wire, [serverTask, wireTask])) }
        ShutdownRegistry.register {
            await wire.close()
            for task in [serverTask, wireTask] {
                task.cancel()
                await task.value
            }
        }
        return wire
    }

    func closeAll() {
        let all = open.withLock { open in
            defer { open = [] }
            return open
        }
        for (wire, tasks) in all {
            Task { await wire.close() }
            for task in tasks { task.cancel() }
        }
    }
}

/// The payloads pushed to one wire client, waited for one by one.
final class Deliveries: Sendable {
    private final class Seen: Sendable {
        let payloads = LockedValue<Set<[UInt8]>>([])
    }

    private let seen = Seen()
    private let task: Task<Void, Never>

    init(_ wire: WireClient) {
        let seen = self.seen
        task = Task {
            for await push in wire.pushes {
                if case .delivery(let delivery) = push { _ = seen.payloads.withLock { $0.insert(delivery.envelope) } }
            }
        }
    }

    deinit { task.cancel() }

    /// Whether `payload` arrived by `deadline` (polled every millisecond).
    func wait(for payload: [UInt8], until deadline: ContinuousClock.Instant) async -> Bool {
        while ContinuousClock.now < deadline {
            if seen.payloads.withLock({ $0.contains(payload) }) { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return false
    }
}

/// Tells the flood's loops to stop.
final class StopFlag: Sendable {
    private let value = LockedValue(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// How the flood's requests were answered, by error code ("ok" for anything else).
final class AnswerCounts: Sendable {
    private let counts = LockedValue<[String: Int]>([:])

    func record(_ answer: Response.Body) {
        let key = if case .error(let error) = answer { error.code.description } else { "ok" }
        counts.withLock { $0[key, default: 0] += 1 }
    }

    func count(_ code: WireError.Code) -> Int {
        counts.withLock { $0[code.description] ?? 0 }
    }

    var summary: String {
        counts.withLock { $0.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
    }
}
