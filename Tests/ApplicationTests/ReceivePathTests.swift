import MLKEMCrypto
import ClientCore
import Conversations
import Envelope
import Foundation
import InMemoryStore
import PNGImages
import Primitives
import SecureChannel
import SystemClock
import Testing
import WireProtocol

/// What the client does with a delivery between the push and the acknowledgement: the one-time
/// prekey it erases, the order of storing and acknowledging, re-deliveries, and read receipts.
@Suite("Receive path", .shutsDownConnections, .timeLimit(.minutes(2)))
struct ReceivePathTests {
    @Test("the client erases the one-time prekey a first message used, once, after decrypting it")
    func oneTimePrekeyErasedAfterFirstReceive() async throws {
        let world = try TestWorld()
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        let bobDevice = try world.device("bob")
        let bob = try world.connect(bobDevice)
        try await bob.client.register(username: name("bob"), password: password())
        await bob.disconnect()
        let uploaded = UInt32(1)...UInt32(100)
        #expect(try uploaded.allSatisfy { try bobDevice.stores.keys.oneTimePrekeyPair(id: $0) != nil })

        // Two messages before Bob is online: both carry the prelude naming the same prekey.
        try await alice.client.send(text: "first", to: name("bob"))
        try await alice.client.send(text: "second", to: name("bob"))
        let onServer = try world.prekeys.oneTimePrekeyCount(for: name("bob"))
        #expect(onServer == 99)

        let bobAgain = try world.connect(bobDevice)
        try await bobAgain.client.logIn(username: name("bob"), password: password())
        try await bobAgain.waitFor("both messages") { $0.messageText == "second" }
        #expect(bobAgain.recorder.events.compactMap(\.messageText) == ["first", "second"])
        // Exactly one of the uploaded secrets is gone: the one the server handed to Alice (it is
        // no longer among those the server can hand out).
        let erased = try uploaded.filter { try bobDevice.stores.keys.oneTimePrekeyPair(id: $0) == nil }
        #expect(erased.count == 1, "erased: \(erased)")
        var stillOffered: Set<UInt32> = []
        while let bundle = try world.prekeys.takePrekeys(for: name("bob")), let oneTime = bundle.oneTimePrekey {
            stillOffered.insert(oneTime.id)
        }
        #expect(stillOffered.count >= 99)
        #expect(erased.allSatisfy { !stillOffered.contains($0) })
    }

    @Test("a delivery whose acknowledgement was lost is delivered again and shown once: one history entry, one event")
    func redeliveredMessageShownOnce() async throws {
        let world = try TestWorld()
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        let bobDevice = try world.device("bob")
        let setup = try world.connect(bobDevice)
        try await setup.client.register(username: name("bob"), password: password())
        await setup.disconnect()
        try await alice.client.send(text: "only once", to: name("bob"))

        // Bob's first connection decrypts and stores the message, but its acknowledgement never
        // reaches the server (the connection is cut just before it).
        let cut = try world.connect(bobDevice, cutting: .beforeAcknowledgement)
        #expect(try await cut.connected.client.logIn(username: name("bob"), password: password()) == 1)
        try await cut.connected.waitFor("the first delivery") { $0.messageText == "only once" }
        try await waitUntil { cut.gate.droppedAcknowledgements > 0 }
        await cut.connected.disconnect()
        #expect(try world.mailbox.usage(for: name("bob")).count == 1)

        // The next login gets the same envelope again: it is acknowledged, not shown again.
        let again = try world.connect(bobDevice)
        #expect(try await again.client.logIn(username: name("bob"), password: password()) == 1)
        try await waitUntil { (try? world.mailbox.usage(for: name("bob")).count) == 0 }
        #expect(try await again.client.history(with: name("alice")).map(\.body) == [.text("only once")])
        #expect(again.recorder.events.compactMap(\.messageText).isEmpty, "\(again.recorder.events)")
        let failures = again.recorder.events.filter(\.isDecryptionFailure)
        #expect(failures.isEmpty, "\(again.recorder.events)")
    }

    @Test("store, then acknowledge: a client killed after decrypting but before storing gets the message again")
    func killedBetweenDecryptingAndStoring() async throws {
        let world = try TestWorld()
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        let bobDevice = try world.device("bob")
        let setup = try world.connect(bobDevice)
        try await setup.client.register(username: name("bob"), password: password())
        await setup.disconnect()
        try await alice.client.send(text: "do not lose me", to: name("bob"))

        // The process "dies" at the history write: from that moment nothing more leaves it (the
        // connection is cut), and the write does not happen.
        let gate = ConnectionGate(mode: .passThrough)
        let crashing = Device(stores: bobDevice.stores.crashingAtHistoryAppend(gate: gate), memory: bobDevice.memory, world: world)
        let dying = try world.connect(crashing, gate: gate)
        _ = try await dying.connected.client.logIn(username: name("bob"), password: password())
        try await waitUntil { gate.isCut }
        await dying.connected.disconnect()
        // Nothing was acknowledged, so the server still holds the envelope.
        #expect(try world.mailbox.usage(for: name("bob")).count == 1)

        // Restarted on the same (durable) stores, the client must still be able to show it.
        let restarted = try world.connect(bobDevice)
        #expect(try await restarted.client.logIn(username: name("bob"), password: password()) == 1)
        try await waitUntil { (try? world.mailbox.usage(for: name("bob")).count) == 0 }
        // Before issue 8 the session was saved (advanced past the message) before the history
        // write, so the re-delivery was a duplicate for the ratchet and the message was lost; now
        // the session record, prekey erasure and history entry are one transaction.
        let stored = try bobDevice.stores.history.entries(with: name("alice"), limit: 10).map(\.body)
        #expect(stored == [.text("do not lose me")])
    }

    @Test("read receipts: markRead on the recipient raises the sender's message to read and tells the sender")
    func readReceiptsEndToEnd() async throws {
        let world = try TestWorld()
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: name("bob"), password: password())
        try await alice.client.send(text: "hello", to: name("bob"))
        try await bob.waitFor("request") { $0.messageText == "hello" }
        try await bob.client.accept(name("alice"))
        let sent = try await alice.client.send(text: "read me", to: name("bob"))
        try await alice.waitFor("delivered") { event in
            if case .receipts(_, let ids, .delivered) = event { return ids.contains(sent.id.hex) }
            return false
        }
        #expect(try await alice.client.history(with: name("bob")).first { $0.id == sent.id }?.status == .delivered)

        // Nothing is read until Bob says so.
        #expect(!alice.recorder.events.contains { if case .receipts(_, _, .read) = $0 { true } else { false } })
        try await bob.waitFor("the message") { $0.messageText == "read me" }
        await bob.client.markRead([sent.id], from: name("alice"))
        let event = try await alice.waitFor("read receipt") { event in
            if case .receipts(_, _, .read) = event { return true }
            return false
        }
        #expect(event == .receipts(peer: name("bob"), ids: [sent.id.hex], status: .read))
        #expect(try await alice.client.history(with: name("bob")).first { $0.id == sent.id }?.status == .read)
        // A late "delivered" never lowers it again.
        #expect(try await alice.client.history(with: name("bob")).filter { $0.status == .read }.map(\.id) == [sent.id])
    }
}

// MARK: - Cutting a connection at a chosen moment

/// Decides, frame by frame, whether the client's outgoing frames still reach the server.
final class ConnectionGate: Sendable {
    enum Mode: Sendable {
        /// Everything passes until ``cut()``.
        case passThrough
        /// Acknowledgements are dropped (and the connection is treated as cut from then on).
        case beforeAcknowledgement
    }

    private struct State {
        var cut = false
        var droppedAcknowledgements = 0
    }

    let mode: Mode
    private let state = LockedValue(State())

    init(mode: Mode) { self.mode = mode }

    var isCut: Bool { state.withLock { $0.cut } }
    var droppedAcknowledgements: Int { state.withLock { $0.droppedAcknowledgements } }

    /// From now on nothing more leaves the client: as if its process had died.
    func cut() { state.withLock { $0.cut = true } }

    /// Whether `frame` may go out.
    func allows(_ frame: [UInt8]) -> Bool {
        state.withLock { state in
            if state.cut { return false }
            if mode == .beforeAcknowledgement, case .request(let request)? = try? WireCodec.decode(frame), case .acknowledge = request.body {
                state.cut = true
                state.droppedAcknowledgements += 1
                return false
            }
            return true
        }
    }
}

/// The client's end of a connection, passing its frames through a ``ConnectionGate``. A dropped
/// frame looks sent to the client (as bytes written into a socket of a dying process do).
struct GatedConnection: FrameConnection {
    let inner: InMemoryConnection
    let gate: ConnectionGate
    var id: ConnectionID { inner.id }
    var remoteStaticKey: X25519PublicKey { inner.remoteStaticKey }
    var handshakeHash: [UInt8] { inner.handshakeHash }

    func send(_ frame: [UInt8]) async throws(ConnectionError) {
        guard gate.allows(frame) else { return }
        try await inner.send(frame)
    }

    func close() async { await inner.close() }
}

/// A history store that "crashes the process" on its first append: it cuts the connection and
/// fails the write, so neither the entry nor any acknowledgement gets out.
final class CrashingHistoryStore: HistoryStore {
    let inner: any HistoryStore
    let gate: ConnectionGate

    init(inner: any HistoryStore, gate: ConnectionGate) {
        self.inner = inner
        self.gate = gate
    }

    func append(_ entry: HistoryEntry) throws(StoreError) -> Bool {
        gate.cut()
        throw StoreError.unavailable("the process died here")
    }

    func contains(_ id: MessageID) throws(StoreError) -> Bool { try inner.contains(id) }
    func entries(with peer: Username, limit: Int) throws(StoreError) -> [HistoryEntry] { try inner.entries(with: peer, limit: limit) }
    func raiseStatus(of ids: [MessageID], to status: HistoryEntry.Status) throws(StoreError) { try inner.raiseStatus(of: ids, to: status) }
    func clearRequestFlag(for peer: Username) throws(StoreError) { try inner.clearRequestFlag(for: peer) }
    func removeConversation(with peer: Username) throws(StoreError) -> [SealedImageReference] { try inner.removeConversation(with: peer) }
}

/// A unit of work whose transactions see a ``CrashingHistoryStore``.
struct CrashingUnitOfWork: ClientUnitOfWork {
    let inner: any ClientUnitOfWork
    let gate: ConnectionGate

    func perform<T: Sendable>(_ body: (ClientTransaction) throws(StoreError) -> T) throws(StoreError) -> T {
        try inner.perform { transaction throws(StoreError) in
            try body(ClientTransaction(
                keys: transaction.keys, sessions: transaction.sessions, contacts: transaction.contacts,
                history: CrashingHistoryStore(inner: transaction.history, gate: gate), settings: transaction.settings,
                sentLog: transaction.sentLog, eventLog: transaction.eventLog))
        }
    }
}

extension ClientStores {
    /// These stores, with the history append (direct or in a transaction) "crashing the process".
    func crashingAtHistoryAppend(gate: ConnectionGate) -> ClientStores {
        ClientStores(
            keys: keys, sessions: sessions, contacts: contacts, history: CrashingHistoryStore(inner: history, gate: gate), settings: settings,
            sentLog: sentLog, imageBlobs: imageBlobs, images: images, eventLog: eventLog, unitOfWork: CrashingUnitOfWork(inner: unitOfWork, gate: gate))
    }
}

struct GatedConnected {
    let connected: Connected
    let gate: ConnectionGate
}

extension TestWorld {
    /// Connects `device` with its outgoing frames passing through a fresh gate in `mode`.
    func connect(_ device: Device, cutting mode: ConnectionGate.Mode) throws -> GatedConnected {
        let gate = ConnectionGate(mode: mode)
        return try connect(device, gate: gate)
    }

    /// Connects `device` with its outgoing frames passing through `gate`.
    func connect(_ device: Device, gate: ConnectionGate) throws -> GatedConnected {
        let clientKey = try crypto.generateX25519KeyPair(using: random)
        let (clientEnd, serverEnd) = InMemoryConnection.pair(id: UInt64.random(in: 1 << 40...1 << 50), serverKey: serverKey.publicKey, clientKey: clientKey.publicKey)
        let serverTask = Task { [server] in await serverEnd.0.serve(server, inbound: serverEnd.1) }
        let wire = WireClient(connection: GatedConnection(inner: clientEnd.0, gate: gate), requestTimeout: .seconds(10) * LoginFloodTests.sanitizerSlowdown)
        let wireTask = Task { await wire.run(inbound: clientEnd.1) }
        let client = ParleyClient(
            wire: wire, stores: device.stores, crypto: crypto, kem: SwiftCryptoMLKEM(), random: random, clock: SystemWallClock(),
            imageValidator: LibPNGImageValidator())
        let recorder = EventRecorder()
        let eventsTask = Task { for await event in client.events { recorder.append(event) } }
        let pushTask = Task { await client.processPushes() }
        let connected = Connected(client: client, wire: wire, recorder: recorder, tasks: [serverTask, wireTask, eventsTask, pushTask])
        ShutdownRegistry.register { await connected.shutDown() }
        return GatedConnected(connected: connected, gate: gate)
    }
}
