import ClientCore
import Prekeys
import Foundation
import InMemoryStore
import Primitives
import ServerCore
import Testing
import WireProtocol

/// The server's limits are one documented set, and each holds (issue 10, finding 11).
@Suite("Server limits", .shutsDownConnections, .timeLimit(.minutes(3)))
struct ServerLimitsTests {
    @Test("the server configures the documented mailbox limits, and they admit the largest envelope")
    func theServerUsesTheDocumentedLimits() {
        let configured = ServerConfiguration().mailboxLimits
        #expect(configured == MailboxLimits.standard)
        #expect(configured.maxPayloadBytes >= WireLimits.maxEnvelopeBytes)
        #expect(configured.maxBytes >= configured.maxPayloadBytes)
    }

    @Test("one sender cannot fill an offline stranger's mailbox: others can still write to them")
    func aStrangerCannotFillAnOfflineMailbox() async throws {
        let world = try TestWorld(mailboxLimits: .standard)
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: name("bob"), password: password())
        await bob.disconnect()
        let bobsKey = try #require(try world.accounts.find(name("bob"))).identityKey
        let mallory = try world.connect(try world.device("mallory"))
        try await mallory.client.register(username: name("mallory"), password: password())
        let wire = mallory.wire
        // Mallory tries to fill every slot of Bob's queue.
        let total = MailboxLimits.standard.maxEnvelopes
        var accepted = 0
        for chunk in stride(from: 0, to: total, by: 200) {
            accepted += await withTaskGroup(of: Int.self) { group in
                for _ in chunk..<min(chunk + 200, total) {
                    group.addTask {
                        if case .accepted = try? await wire.request(.send(recipient: name("bob"), recipientIdentity: bobsKey, envelope: [1, 2, 3])) { return 1 }
                        return 0
                    }
                }
                return await group.reduce(0, +)
            }
        }
        #expect(accepted < total, "mallory alone could not take the whole queue")
        // Alice, a real sender, still gets through.
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        try await alice.client.send(text: "hello bob", to: name("bob"))
    }

    @Test("a connection's sends in flight are bounded in bytes: past the budget its next request waits")
    func inFlightSendsAreBoundedInBytes() async throws {
        // The production budget is 32 MiB (pinned below); a small one keeps this test's memory
        // small, as other tests measure the process's resident size while it runs.
        #expect(ServerConfiguration().maxInFlightSendBytesPerConnection == ServerLimits.maxInFlightSendBytesPerConnection)
        #expect(ServerLimits.maxInFlightSendBytesPerConnection == 32 << 20)
        let gate = MailboxGate()
        var configuration = ServerConfiguration()
        configuration.maxInFlightSendBytesPerConnection = 1 << 20
        let world = try TestWorld(configuration: configuration, wrapMailbox: { GatedMailboxStore(inner: $0, gate: gate) })
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: name("bob"), password: password())
        let bobsKey = try #require(try world.accounts.find(name("bob"))).identityKey
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        let wire = alice.wire
        gate.close()
        // Five 300 KiB sends while the mailbox writer cannot commit: 1.5 MiB would be held.
        var sends: [Task<Response.Body?, Never>] = []
        for _ in 0..<5 {
            sends.append(Task { try? await wire.request(.send(recipient: name("bob"), recipientIdentity: bobsKey, envelope: [UInt8](repeating: 7, count: 300 << 10))) })
            try await Task.sleep(for: .milliseconds(50))
        }
        let pong = LockedValue(false)
        let ping = Task {
            if case .pong = try? await wire.request(.ping) { pong.withLock { $0 = true } }
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(!pong.withLock { $0 }, "the connection's later requests wait while its budget is used up")
        gate.open()
        await ping.value
        #expect(pong.withLock { $0 })
        for send in sends {
            guard case .accepted = await send.value else {
                Issue.record("every send is accepted once the writer runs")
                continue
            }
        }
    }

    @Test("an acknowledgement waiting for its commit does not hold up the connection's next request")
    func acknowledgementsArePipelined() async throws {
        let gate = MailboxGate()
        let world = try TestWorld(wrapMailbox: { GatedMailboxStore(inner: $0, gate: gate) })
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: name("bob"), password: password())
        let wire = bob.wire
        gate.close()
        // Whatever happens below, the writer is never left waiting at the gate.
        defer { gate.open() }
        let acknowledged = LockedValue(false)
        let acknowledgement = Task {
            let answer = try? await wire.request(.acknowledge(ids: [1, 2, 3]))
            acknowledged.withLock { $0 = true }
            return answer
        }
        // The acknowledgement has reached the writer, which holds it.
        for _ in 0..<1_000 where gate.heldCommits == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(gate.heldCommits == 1)
        // Answered on the connection's loop while the writer is held: before the state machine,
        // the connection read nothing more until the acknowledgement had committed.
        guard case .pong = try await wire.request(.ping) else {
            Issue.record("a ping is answered while an acknowledgement waits for the writer")
            gate.open()
            return
        }
        #expect(!acknowledged.withLock { $0 }, "the acknowledgement is still waiting for its commit")
        gate.open()
        guard case .ok? = await acknowledgement.value else {
            Issue.record("the acknowledgement is answered once the writer commits")
            return
        }
    }
}

/// Holds the mailbox writer's commits while closed.
final class MailboxGate: Sendable {
    private let closed = LockedValue(false)
    private let held = LockedValue(0)
    private let semaphore = DispatchSemaphore(value: 0)

    /// How many commits have waited at the gate so far.
    var heldCommits: Int { held.withLock { $0 } }

    func close() { closed.withLock { $0 = true } }

    func open() {
        closed.withLock { $0 = false }
        semaphore.signal()
    }

    /// Blocks the calling (writer) thread while the gate is closed.
    func pass() {
        guard closed.withLock({ $0 }) else { return }
        held.withLock { $0 += 1 }
        semaphore.wait()
        semaphore.signal()
    }
}

/// A mailbox store whose commits wait at a gate: sends stay in flight as long as a test wants.
struct GatedMailboxStore: MailboxStore {
    let inner: InMemoryMailboxStore
    let gate: MailboxGate

    func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome] {
        gate.pass()
        return try inner.enqueue(batch)
    }

    func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        gate.pass()
        return try inner.commit(enqueue: batch, acknowledge: acknowledgements)
    }

    func pending(for recipient: Username, after id: UInt64?, limit: Int) throws(StoreError) -> [MailboxEnvelope] {
        try inner.pending(for: recipient, after: id, limit: limit)
    }

    func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int { try inner.acknowledge(ids, for: recipient) }
    func removeAll(for user: Username) throws(StoreError) { try inner.removeAll(for: user) }
    func usage(for recipient: Username) throws(StoreError) -> MailboxUsage { try inner.usage(for: recipient) }
}

@Suite("Prekey pool limit", .shutsDownConnections, .timeLimit(.minutes(2)))
struct PrekeyPoolLimitTests {
    @Test("an account holds at most 1,000 one-time prekeys on the server (PrekeyPolicy.maxOneTimePrekeysPerAccount)")
    func thePoolIsBounded() async throws {
        let world = try TestWorld()
        let carol = try world.connect(try world.device("carol"))
        try await carol.client.register(username: name("carol"), password: password())
        var nextID: UInt32 = 10_000
        for _ in 0..<6 {
            var batch: [OneTimePrekey] = []
            for _ in 0..<200 {
                batch.append(OneTimePrekey(id: nextID, publicKey: try world.crypto.generateX25519KeyPair(using: world.random).publicKey))
                nextID += 1
            }
            _ = try await carol.wire.request(.publishPrekeys(signedPrekey: nil, oneTimePrekeys: batch))
        }
        #expect(try world.prekeys.oneTimePrekeyCount(for: name("carol")) <= 1000)
    }
}
