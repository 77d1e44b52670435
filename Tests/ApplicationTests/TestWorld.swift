import Accounts
import MLKEMCrypto
import ClientCore
import Conversations
import Envelope
import Foundation
import InMemoryStore
import Logging
import PNGImages
import Primitives
import SecureChannel
import ServerCore
import SodiumCrypto
import SystemClock
import WireProtocol

/// A server application on in-memory stores, and clients connected to it through in-memory
/// connections: the whole system minus sockets and disks, fast and deterministic enough for
/// behaviour tests.
final class TestWorld: Sendable {
    let crypto: SodiumCryptoProvider
    let random: SodiumRandomSource
    let accounts = InMemoryAccountStore()
    let prekeys = InMemoryPrekeyStore()
    let mailbox: InMemoryMailboxStore
    let blocks = InMemoryBlockStore()
    let server: ParleyServer
    let serverKey: X25519KeyPair
    let root: URL
    private let nextConnection = LockedValue<UInt64>(0)

    init(
        mailboxLimits: MailboxLimits = MailboxLimits(maxEnvelopes: 1000, maxBytes: 64 << 20, maxPayloadBytes: 11 << 20),
        configuration base: ServerConfiguration = ServerConfiguration(),
        passwordCost: Argon2Cost = .minimum,
        serverClock: any Clock = SystemWallClock(),
        wrapMailbox: (InMemoryMailboxStore) -> any MailboxStore = { $0 },
        wrapAccounts: (InMemoryAccountStore) -> any AccountStore = { $0 }
    ) throws {
        crypto = try SodiumCryptoProvider()
        random = try SodiumRandomSource()
        mailbox = InMemoryMailboxStore(limits: mailboxLimits, accounts: accounts, blocks: blocks)
        var configuration = base
        configuration.mailboxLimits = mailboxLimits
        configuration.passwordCost = passwordCost
        server = try ParleyServer(
            accounts: wrapAccounts(accounts), prekeys: prekeys, mailbox: wrapMailbox(mailbox), blocks: blocks,
            accountDeletion: InMemoryAccountDeletionStore(accounts: accounts, prekeys: prekeys, mailbox: mailbox, blocks: blocks),
            events: InMemoryEventBus(),
            crypto: crypto, random: random, clock: serverClock, configuration: configuration,
            logger: Logger(label: "test.server"))
        serverKey = try crypto.generateX25519KeyPair(using: random)
        root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-app-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: root)
    }

    /// A device: one account's stores, which outlive connections (as the sealed database does).
    /// - Parameter wrap: puts a double around the stores (e.g. ``FailingClientStores``).
    /// - Parameter blobsOnDisk: keep sealed images in a `FileSystemImageBlobStore` under the
    ///   device's folder instead of ``InMemoryClientStores/imageBlobs``.
    func device(_ name: String, blobsOnDisk: Bool = false, wrap: (ClientStores) -> ClientStores = { $0 }) throws -> Device {
        let memory = InMemoryClientStores()
        let images = FileSystemImageLibrary(root: imageFolder(name).path)
        let blobs: (any ImageBlobStore)? = blobsOnDisk ? FileSystemImageBlobStore(root: imageFolder(name).path) : nil
        return Device(stores: wrap(memory.clientStores(imageBlobs: blobs, images: images)), memory: memory, world: self)
    }

    /// Where a device named `name` keeps its images (one folder per device name).
    func imageFolder(_ name: String) -> URL {
        root.appendingPathComponent(name)
    }

    /// Connects a device to the server and starts its background loops; the connection is closed
    /// and its tasks awaited when the test ends (``ShutsDownConnections``).
    func connect(_ device: Device, clock: any Clock = SystemWallClock(), pushDelay: Duration = .zero) throws -> Connected {
        let id = nextConnection.withLock { $0 += 1; return $0 }
        let clientKey = try crypto.generateX25519KeyPair(using: random)
        let (clientEnd, serverEnd) = InMemoryConnection.pair(id: id, serverKey: serverKey.publicKey, clientKey: clientKey.publicKey)
        let serverTask = Task { [server] in await serverEnd.0.serve(server, inbound: serverEnd.1) }
        let wire = WireClient(connection: clientEnd.0, requestTimeout: .seconds(10) * LoginFloodTests.sanitizerSlowdown)
        let wireTask = Task { await wire.run(inbound: clientEnd.1) }
        let client = ParleyClient(
            wire: wire, stores: device.stores, crypto: crypto, kem: SwiftCryptoMLKEM(), random: random, clock: clock,
            imageValidator: LibPNGImageValidator())
        let recorder = EventRecorder()
        let eventsTask = Task { for await event in client.events { recorder.append(event) } }
        let pushTask = Task { await client.processPushes(delayingEachBy: pushDelay) }
        let connected = Connected(client: client, wire: wire, recorder: recorder, tasks: [serverTask, wireTask, eventsTask, pushTask])
        ShutdownRegistry.register { await connected.shutDown() }
        return connected
    }
}

struct Device: Sendable {
    let stores: ClientStores
    /// The in-memory stores behind ``stores``, for tests that look inside them.
    let memory: InMemoryClientStores
    let world: TestWorld
}

/// A connected client and what it has seen.
struct Connected: Sendable {
    let client: ParleyClient
    let wire: WireClient
    let recorder: EventRecorder
    let tasks: [Task<Void, Never>]

    func disconnect() async {
        await wire.close()
        await client.finishEvents()
        for task in tasks { task.cancel() }
    }

    /// Disconnects (again, if the test already did: each step is idempotent) and waits until the
    /// connection's tasks have ended, so nothing of it outlives the test.
    func shutDown() async {
        await disconnect()
        for task in tasks { await task.value }
    }

    /// Waits (bounded) until an event matching `predicate` has been seen. 30 s by default, as
    /// ``waitUntil(timeout:_:)``: only a failing test waits that long.
    @discardableResult
    func waitFor(_ description: String, timeout: Duration = .seconds(30), _ predicate: @Sendable (ClientEvent) -> Bool) async throws -> ClientEvent {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = recorder.events.first(where: predicate) { return match }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw WaitTimeout(description: description, seen: recorder.events)
    }
}

struct WaitTimeout: Error, CustomStringConvertible {
    let description: String
    let seen: [ClientEvent]
}

/// A server clock stopped at the current time, for tests that count what a rate limit refuses:
/// with the wall clock, the buckets refill while the test runs, so the count depended on the
/// machine's speed (under the sanitizers, 93 of 150 fetches were refused where 100 must be).
func frozenClock() -> ManualClock { ManualClock(SystemWallClock().now()) }

/// A clock the test moves by hand.
final class ManualClock: Clock {
    private let current: LockedValue<Timestamp>
    init(_ start: Timestamp) { current = LockedValue(start) }
    func now() -> Timestamp { current.withLock { $0 } }
    func advance(by duration: Duration) { current.withLock { $0 = $0.adding(duration) } }
}

final class EventRecorder: Sendable {
    private let storage = LockedValue([ClientEvent]())
    func append(_ event: ClientEvent) { storage.withLock { $0.append(event) } }
    var events: [ClientEvent] { storage.withLock { $0 } }
}

func name(_ raw: String) -> Username { (try? Username(raw)) ?? { preconditionFailure("bad test username \(raw)") }() }
func password(_ raw: String = "correct horse battery") -> SecretBytes { SecretBytes(copying: Array(raw.utf8)) }

extension ClientEvent {
    var messageText: String? {
        if case .message(let entry) = self, case .text(let text) = entry.body { return text }
        return nil
    }
}
