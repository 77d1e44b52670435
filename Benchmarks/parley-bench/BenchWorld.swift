import ClientCore
import Conversations
import Envelope
import Foundation
import InMemoryStore
import MLKEMCrypto
import Logging
import Prekeys
import Primitives
import SQLiteStore
import SecureChannel
import ServerCore
import SodiumCrypto
import Synchronization
import SystemClock
import TCPTransport
import WireProtocol

/// A benchmark account: its keys, as a real client holds them, and what it publishes.
struct BenchUser: Sendable {
    let name: Username
    let password: SecretBytes
    let identity: Ed25519KeyPair
    let signedPrekey: SignedPrekeyPair
    let oneTimePrekey: OneTimePrekeyPair
    /// Its last-resort ML-KEM prekey (PQXDH), kept after use.
    let kemPrekey: KEMPrekeyPair
    let keys: InMemoryLocalKeyStore
    /// The identity key's signature over the username (PROTOCOL.md, identity binding).
    let identitySignature: Ed25519Signature

    static let password = "correct horse battery staple"

    init(name: String, crypto: any CryptoProvider, random: SodiumRandomSource) throws {
        self.name = try Username(name)
        password = SecretBytes(copying: Self.password.utf8)
        identity = try crypto.generateEd25519KeyPair(using: random)
        let spk = try crypto.generateX25519KeyPair(using: random)
        let spkID = random.uint32()
        let signature = try crypto.sign(SignedPrekey.signedMessage(id: spkID, publicKey: spk.publicKey), with: identity.secretKey)
        signedPrekey = SignedPrekeyPair(id: spkID, keyPair: spk, signature: signature, createdAt: Timestamp(millisecondsSinceEpoch: 0))
        oneTimePrekey = OneTimePrekeyPair(id: 1, keyPair: try crypto.generateX25519KeyPair(using: random))
        identitySignature = try IdentityBinding.sign(username: self.name, with: identity, crypto: crypto)
        let kemPair = try SwiftCryptoMLKEM().generateMLKEMKeyPair(using: random)
        kemPrekey = KEMPrekeyPair(
            id: 1, keyPair: kemPair, signature: try crypto.sign(KEMPrekey.signedMessage(id: 1, publicKey: kemPair.publicKey), with: identity.secretKey),
            isLastResort: true, createdAt: Timestamp(millisecondsSinceEpoch: 0))
        keys = InMemoryLocalKeyStore()
        try keys.setIdentityKeyPair(identity)
        try keys.addSignedPrekeyPair(signedPrekey)
        try keys.addOneTimePrekeyPairs([oneTimePrekey])
        try keys.addKEMPrekeyPairs([kemPrekey])
    }

    var registration: Request.Body {
        .register(
            username: name, password: password, identityKey: identity.publicKey, identitySignature: identitySignature,
            signedPrekey: signedPrekey.publicPrekey, oneTimePrekeys: [oneTimePrekey.publicPrekey])
    }

    var bundle: UnverifiedPrekeyBundle {
        UnverifiedPrekeyBundle(
            identityKey: identity.publicKey, identitySignature: identitySignature, signedPrekey: signedPrekey.publicPrekey,
            oneTimePrekey: oneTimePrekey.publicPrekey, kemPrekey: BundledKEMPrekey(kemPrekey.publicPrekey, isLastResort: true))
    }
}

/// A sender and its recipient, with a pool of real end-to-end encrypted envelopes from one to the
/// other, made before anything is timed.
struct BenchPair: Sendable {
    let sender: BenchUser
    let recipient: BenchUser
    let envelopes: [[UInt8]]

    /// Runs X3DH from the recipient's bundle, lets the recipient answer once (so that, as in a
    /// conversation under way, the sender's envelopes no longer carry the X3DH prelude), then
    /// encrypts `count` text messages of 60...260 bytes (padded to 160 or 320).
    static func make(index: Int, prefix: String, envelopes count: Int, crypto: any CryptoProvider, random: SodiumRandomSource) throws -> BenchPair {
        let sender = try BenchUser(name: "\(prefix)s\(index)", crypto: crypto, random: random)
        let recipient = try BenchUser(name: "\(prefix)r\(index)", crypto: crypto, random: random)
        let cipher = SessionCipher(crypto: crypto, kem: SwiftCryptoMLKEM(), random: random)
        let bundle = try PrekeyBundleVerifier(crypto: crypto).verify(recipient.bundle)
        var session = try cipher.startSession(with: bundle, peer: recipient.name, localUsername: sender.name, localIdentity: sender.identity)
        let now = SystemWallClock().now()
        let hello = try cipher.encrypt(content("hello", now: now, random: random), in: &session)
        let recipientPrekeys = SessionCipher.ResponderPrekeys(
            signedPrekeys: [recipient.signedPrekey], oneTimePrekey: recipient.oneTimePrekey, kemPrekey: recipient.kemPrekey)
        var answering = try cipher.decrypt(
            hello, from: sender.name, record: nil, localUsername: recipient.name, localIdentity: recipient.identity, prekeys: recipientPrekeys
        ).session
        let reply = try cipher.encrypt(content("hi", now: now, random: random), in: &answering)
        session = try cipher.decrypt(
            reply, from: recipient.name, record: SessionRecord(peer: recipient.name, current: session), localUsername: sender.name,
            localIdentity: sender.identity, prekeys: nil
        ).session
        precondition(session.pendingPrelude == nil)

        var envelopes: [[UInt8]] = []
        envelopes.reserveCapacity(count)
        for _ in 0..<count {
            let length = 60 + Int(random.uint32() % 201)
            let text = String(repeating: "x", count: length)
            envelopes.append(try cipher.encrypt(content(text, now: now, random: random), in: &session).encoded)
        }
        return BenchPair(sender: sender, recipient: recipient, envelopes: envelopes)
    }

    private static func content(_ text: String, now: Timestamp, random: SodiumRandomSource) -> MessageContent {
        MessageContent(id: MessageID.random(using: random), sentAt: now, body: .text(text))
    }
}

/// Counts the server's mailbox commits, their sizes and how long each took, and the
/// acknowledgement transactions: a decorator on the real SQLite store.
final class CountingMailboxStore: MailboxStore {
    struct Window: Sendable {
        var batchSizes: [Int] = []
        var commitSeconds: [Double] = []
        var acknowledgeSeconds: [Double] = []
        /// Acknowledgements applied inside mailbox commits (``commit(enqueue:acknowledge:)``).
        var acknowledgementsFolded = 0
    }

    private let base: any MailboxStore
    private let window = LockedValue(Window())

    init(_ base: any MailboxStore) { self.base = base }

    func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome] {
        let started = Measurement.clock.now
        defer {
            let seconds = Measurement.seconds(Measurement.clock.now - started)
            window.withLock {
                $0.batchSizes.append(batch.count)
                $0.commitSeconds.append(seconds)
            }
        }
        return try base.enqueue(batch)
    }

    /// Counted as a commit of `batch.count` envelopes (a commit that only acknowledges counts as an
    /// empty batch), and as one acknowledgement transaction per acknowledgement it carries with the
    /// commit's duration.
    func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        let started = Measurement.clock.now
        defer {
            let seconds = Measurement.seconds(Measurement.clock.now - started)
            window.withLock {
                $0.batchSizes.append(batch.count)
                $0.commitSeconds.append(seconds)
                $0.acknowledgementsFolded += acknowledgements.count
            }
        }
        return try base.commit(enqueue: batch, acknowledge: acknowledgements)
    }

    func pending(for recipient: Username, after id: UInt64?, limit: Int) throws(StoreError) -> [MailboxEnvelope] {
        try base.pending(for: recipient, after: id, limit: limit)
    }

    func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int {
        let started = Measurement.clock.now
        defer {
            let seconds = Measurement.seconds(Measurement.clock.now - started)
            window.withLock { $0.acknowledgeSeconds.append(seconds) }
        }
        return try base.acknowledge(ids, for: recipient)
    }

    func removeAll(for user: Username) throws(StoreError) { try base.removeAll(for: user) }

    func usage(for recipient: Username) throws(StoreError) -> MailboxUsage { try base.usage(for: recipient) }

    /// What was committed since the last call, and resets.
    func takeWindow() -> Window {
        window.withLock { window in
            defer { window = Window() }
            return window
        }
    }
}

/// The server under test, in this process: the NIO transport on 127.0.0.1 (port 0) in front of
/// the server application on SQLite in a fresh temporary directory, as `parley-server` wires them
/// (but with the minimum Argon2id cost, so that registering benchmark accounts is quick).
final class InProcessServer: Sendable {
    let port: Int
    let serverKey: X25519PublicKey
    let mailbox: CountingMailboxStore
    let directory: String
    private let transport: NIOServerTransport
    private let application: ParleyServer
    private let store: SQLiteServerStore
    private let serving: Task<Void, Never>

    static func start(directoryRoot: String) async throws -> InProcessServer {
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let directory = try makeTemporaryDirectory(in: directoryRoot)
        var configuration = ServerConfiguration()
        configuration.passwordCost = .minimum
        // Every benchmark client comes from 127.0.0.1 and logs in at once.
        configuration.authenticationAttemptsPerAddress = AddressRateLimit(burst: 1_000_000, refillInterval: .milliseconds(1))
        configuration.maxQueuedPasswordHashes = 100_000
        // The benchmarks register thousands of accounts at once.
        configuration.registrationBurst = 1_000_000
        let store = try SQLiteServerStore(dataDirectory: directory, mailboxLimits: configuration.mailboxLimits)
        let mailbox = CountingMailboxStore(store.mailbox)
        var logger = Logger(label: "parley.bench.server")
        logger.logLevel = .warning
        let application = try ParleyServer(
            accounts: store.accounts, prekeys: store.prekeys, mailbox: mailbox, blocks: store.blocks,
            accountDeletion: store.accountDeletion,
            events: InMemoryEventBus(), crypto: crypto, random: random, clock: SystemWallClock(),
            configuration: configuration, logger: logger)
        var limits = ChannelLimits()
        limits.maxConnections = 20_000
        // Every benchmark connection comes from 127.0.0.1.
        limits.maxConnectionsPerAddress = 20_000
        let staticKey = try crypto.generateX25519KeyPair(using: random)
        var transportLogger = Logger(label: "parley.bench.transport")
        transportLogger.logLevel = .warning
        let transport = try await NIOServerTransport.bind(
            host: "127.0.0.1", port: 0, localStatic: staticKey, crypto: crypto, random: random, limits: limits, logger: transportLogger)
        let serving = Task {
            do { try await transport.serve(application) } catch {}
        }
        return InProcessServer(
            port: transport.localPort, serverKey: staticKey.publicKey, mailbox: mailbox, directory: directory,
            transport: transport, application: application, store: store, serving: serving)
    }

    private init(
        port: Int, serverKey: X25519PublicKey, mailbox: CountingMailboxStore, directory: String,
        transport: NIOServerTransport, application: ParleyServer, store: SQLiteServerStore, serving: Task<Void, Never>
    ) {
        self.port = port
        self.serverKey = serverKey
        self.mailbox = mailbox
        self.directory = directory
        self.transport = transport
        self.application = application
        self.store = store
        self.serving = serving
    }

    /// Stops listening, waits for the handlers and the pending commits, closes the database and
    /// deletes the directory.
    func stop() async {
        serving.cancel()
        await serving.value
        await application.drain()
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A fresh private directory under `root` (the real disk unless told otherwise).
func makeTemporaryDirectory(in root: String) throws -> String {
    var template = Array((root + "/parley-bench-XXXXXX").utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw BenchError.setup("cannot create a temporary directory in \(root): \(String(cString: strerror(errno)))")
    }
    return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The filesystem type and device holding `path` (from /proc/mounts), for the report.
func filesystem(of path: String) -> String {
    guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return "unknown" }
    var best: (mountPoint: String, description: String) = ("", "unknown")
    for line in mounts.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count >= 3 else { continue }
        let mountPoint = String(fields[1])
        let covers = path == mountPoint || path.hasPrefix(mountPoint.hasSuffix("/") ? mountPoint : mountPoint + "/")
        if covers, mountPoint.count > best.mountPoint.count {
            best = (mountPoint, "\(fields[2]) on \(fields[0]) (mounted at \(mountPoint))")
        }
    }
    return best.description
}

enum BenchError: Error, CustomStringConvertible {
    case setup(String)
    case unexpected(String)

    var description: String {
        switch self {
        case .setup(let reason): "setup failed: \(reason)"
        case .unexpected(let reason): reason
        }
    }
}

/// Connects one client (a fresh Noise static key), runs `WireClient` over the connection, and
/// calls `body` with it; closes when `body` returns.
func withWireClient<Result: Sendable>(
    host: String = "127.0.0.1", port: Int, serverKey: X25519PublicKey?, crypto: any CryptoProvider, random: SodiumRandomSource,
    _ body: @Sendable (WireClient) async throws -> Result
) async throws -> Result {
    let transport = NIOClientTransport(localStatic: try crypto.generateX25519KeyPair(using: random), crypto: crypto, random: random)
    return try await transport.withConnection(host: host, port: port, expectedServerKey: serverKey) { connection, inbound in
        let wire = WireClient(connection: connection)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await wire.run(inbound: inbound) }
            do {
                let result = try await body(wire)
                await wire.close()
                try await group.waitForAll()
                return result
            } catch {
                await wire.close()
                throw error
            }
        }
    }
}

/// Expects a `.loggedIn` answer.
func expectLoggedIn(_ body: Response.Body, _ what: String) throws {
    guard case .loggedIn = body else { throw BenchError.unexpected("\(what) was answered with \(body)") }
}
