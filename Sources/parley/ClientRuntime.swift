import ClientCore
import MLKEMCrypto
import Conversations
import Foundation
import PNGImages
import Primitives
import SQLiteStore
import SecureChannel
import SodiumCrypto
import SystemClock
import TCPTransport
import TerminalIO

/// Wires the adapters into the client application for one account and one connection: the sealed
/// SQLite store, the image adapters, libsodium, and the NIO transport with server-key pinning.
struct ClientRuntime {
    enum Mode { case register, logIn }

    let options: GlobalOptions
    let crypto: SodiumCryptoProvider
    let random: SodiumRandomSource

    init(options: GlobalOptions) throws {
        self.options = options
        crypto = try SodiumCryptoProvider()
        random = try SodiumRandomSource()
    }

    /// The account to use: `--user`, else the only or last account on this server.
    func defaultUser() throws -> Username {
        if let user = options.user { return try Username(user) }
        let accounts = options.localAccounts()
        if let last = accounts.last { return last }
        if accounts.all.count == 1 { return accounts.all[0] }
        if accounts.all.isEmpty {
            throw CLIError.usage("no account on this device for \(options.serverName); run 'parley register NAME' first")
        }
        throw CLIError.usage("several accounts here (\(accounts.all.map(\.value).joined(separator: ", "))); choose one with --user")
    }

    /// Connects to the first address of the server that answers (the next on a failure to connect
    /// or to finish the handshake; never past a server that proves the wrong key), pins the key it
    /// proved, opens the account's sealed store in that key's folder, logs in (or registers), runs
    /// `body` with the client, and tears everything down.
    /// - Parameter retainEvents: whether the ``EventSink`` keeps every event for the command to
    ///   read (the daemon, which runs for days and reads the durable log instead, says no).
    func withClient<Result: Sendable>(
        user: Username, password: SecretBytes, mode: Mode, terminal: LineEditor?, retainEvents: Bool = true,
        _ body: (ParleyClient, Int, EventSink) async throws -> Result
    ) async throws -> Result {
        let home = options.resolvedHome
        let known = options.knownServers
        let addresses = options.serverAddresses
        let expected = try options.expectedServerKey()
        // Before any connection, when the server is known: a missing or existing account is told
        // without touching the network.
        if let expected { try checkAccount(user, mode: mode, folder: home.accountFolder(expected, user)) }
        if expected == nil, mode == .logIn {
            throw CLIError.usage("no account \(user) on this device for \(options.serverName); register it first ('parley register \(user)')")
        }
        let transport = NIOClientTransport(localStatic: try crypto.generateX25519KeyPair(using: random), crypto: crypto, random: random)
        var failures: [String] = []
        for server in addresses {
            do {
                return try await transport.withConnection(host: server.host, port: server.port, expectedServerKey: expected) { connection, inbound in
                    do {
                        return try await session(
                            connection: connection, inbound: inbound, user: user, password: password, mode: mode, terminal: terminal,
                            retainEvents: retainEvents, home: home, known: known, addresses: addresses, body)
                    } catch {
                        throw SessionFailure(error: error)
                    }
                }
            } catch let failure as SessionFailure {
                throw failure.error
            } catch let error as ConnectionError {
                switch error {
                case let .serverKeyMismatch(expectedKey, received):
                    throw CLIError.unreachable("""
                        WARNING: the server at \(server) proved a different key than the one pinned for it.
                          pinned:    \(expectedKey)
                          presented: \(received)
                        Someone may be impersonating the server. Nothing was sent. If the server's operator confirms
                        the new key, connect once with --server-key \(received)
                        """)
                case let .connectFailed(host, port, reason):
                    failures.append("cannot reach the server at \(displaySafeLine(host)):\(port): \(displaySafeLine(reason))")
                default:
                    // The reasons are the transport's and the networking library's words: made safe.
                    failures.append("the connection to \(server) failed: \(displaySafeLine("\(error)"))")
                }
            }
        }
        throw CLIError.unreachable(failures.joined(separator: "; "))
    }

    /// Refuses to register an account this device already has, or to log in to one it has not.
    private func checkAccount(_ user: Username, mode: Mode, folder: String) throws {
        let exists = FileManager.default.fileExists(atPath: folder + "/" + SQLiteClientStore.fileName)
        switch mode {
        case .register where exists:
            throw CLIError.usage("\(user) already has an account on this device for \(options.serverName) (\(folder)); log in instead")
        case .logIn where !exists:
            throw CLIError.usage("no account \(user) on this device for \(options.serverName); register it first ('parley register \(user)')")
        default:
            break
        }
    }

    /// Everything after the handshake: pin, open the store, log in or register, run `body`.
    private func session<Result: Sendable>(
        connection: any FrameConnection, inbound: InboundFrames, user: Username, password: SecretBytes, mode: Mode,
        terminal: LineEditor?, retainEvents: Bool, home: Home, known: KnownServers, addresses: [ServerAddress],
        _ body: (ParleyClient, Int, EventSink) async throws -> Result
    ) async throws -> Result {
        let key = connection.remoteStaticKey
        let names = addresses.map(\.description)
        let pins: [String: X25519PublicKey]
        do { pins = try known.pins() } catch { throw CLIError.local("cannot read \(known.path): \(error)") }
        do {
            try known.pin(key, for: ServerTrust.addressesToPin(names, proven: key, pins: pins))
        } catch {
            throw CLIError.local("cannot pin the server's key in \(known.path): \(error)")
        }
        let serverFolder = home.serverFolder(key)
        let folder = home.accountFolder(key, user)
        try checkAccount(user, mode: mode, folder: folder)
        do { try Home.makeFolder(serverFolder) } catch { throw CLIError.local("cannot create \(serverFolder): \(displaySafeLine("\(error)"))") }
        // The history's images, sealed, in <account>/blobs/; images the person saves, in clear,
        // in <account>/images/<peer>/<date>/.
        let imageBlobs = FileSystemImageBlobStore(root: folder)
        let imageLibrary = FileSystemImageLibrary(root: folder)
        let legacyImages = LegacyImageImport(sealer: ImageSealer(crypto: crypto, random: random, blobs: imageBlobs), library: imageLibrary)
        let store: SQLiteClientStore
        do {
            store = try SQLiteClientStore.open(accountDirectory: folder, password: password, crypto: crypto, random: random, legacyImages: legacyImages)
        } catch .wrongPassword {
            throw CLIError.authentication("wrong password for \(user) (the local history could not be unlocked)")
        } catch {
            throw CLIError.local("cannot open the local store for \(user): \(displaySafeLine("\(error)"))")
        }
        defer { store.close() }
        let stores = store.clientStores(imageBlobs: imageBlobs, images: imageLibrary)
        let wire = WireClient(connection: connection)
        let client = ParleyClient(
            wire: wire, stores: stores, crypto: crypto, kem: SwiftCryptoMLKEM(), random: random, clock: SystemWallClock(),
            imageValidator: LibPNGImageValidator())
        let sink = EventSink(terminal: terminal, json: options.json, retainEvents: retainEvents)
        let wireTask = Task { await wire.run(inbound: inbound) }
        let eventsTask = Task { for await event in client.events { sink.record(event) } }
        let pushDelay = Self.testPushDelay()
        let pushTask = Task { await client.processPushes(delayingEachBy: pushDelay) }
        defer {
            wireTask.cancel()
            pushTask.cancel()
            eventsTask.cancel()
        }
        let pending: Int
        do throws(ClientError) {
            switch mode {
            case .register:
                try await client.register(username: user, password: password)
                pending = 0
            case .logIn:
                pending = try await client.logIn(username: user, password: password)
            }
        } catch {
            if mode == .register { try? FileManager.default.removeItem(atPath: folder) }
            throw CLIError(error)
        }
        home.rememberLastUser(user, on: key)
        let result = try await body(client, pending, sink)
        await client.flushAcknowledgements()
        await wire.close()
        await client.finishEvents()
        return result
    }
}

/// An error from inside an established session, carried past the address loop unchanged (only a
/// failure to connect moves on to the next address).
private struct SessionFailure: Error {
    let error: any Error
}

extension GlobalOptions {
    var knownServers: KnownServers { KnownServers(path: resolvedHome.knownServersPath) }

    /// The key the server must prove (``ServerTrust/expectedKey(for:override:pins:)``), after
    /// moving account folders of the previous, address-named layout under their keys; nil for a
    /// server met for the first time.
    func expectedServerKey() throws -> X25519PublicKey? {
        let known = knownServers
        let pins: [String: X25519PublicKey]
        do { pins = try known.pins() } catch { throw CLIError.local("cannot read \(known.path): \(error)") }
        for note in resolvedHome.migrateAddressFolders(pins: pins) {
            FileHandle.standardError.write(Data("parley: \(displaySafeLine(note))\n".utf8))
        }
        do {
            return try ServerTrust.expectedKey(for: serverAddresses.map(\.description), override: pinnedKeyOverride, pins: pins)
        } catch {
            throw CLIError.usage(error.description)
        }
    }

    /// The accounts this device has on the server (none when it was never met).
    func localAccounts() -> (all: [Username], last: Username?) {
        resolvedHome.accounts(on: (try? expectedServerKey()) ?? nil)
    }

    /// The folder of `user`'s local data on this server, if the server is known.
    func accountFolder(_ user: Username) -> String? {
        ((try? expectedServerKey()) ?? nil).map { resolvedHome.accountFolder($0, user) }
    }
}

extension ClientRuntime {
    /// A delay before each push is handled, for end-to-end tests that must make a race certain
    /// (two people writing first at the same time). Test-only: read from
    /// `PARLEY_TEST_PUSH_DELAY_MS`, at most 10 s, zero when unset or invalid.
    static func testPushDelay(environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration {
        guard let raw = environment["PARLEY_TEST_PUSH_DELAY_MS"], let milliseconds = Int(raw), milliseconds > 0 else { return .zero }
        return .milliseconds(min(milliseconds, 10_000))
    }
}

/// Collects what the client reports, prints warnings at once (above the input line in the
/// interactive session), and lets commands wait for arrivals.
final class EventSink: Sendable {
    private struct State {
        var events: [ClientEvent] = []
        var handler: (@Sendable (ClientEvent) -> Void)?
    }

    /// One lock for the log and the handler, so that an event is either replayed to a new
    /// handler or delivered to it, never both and never neither.
    private let state = LockedValue(State())
    let terminal: LineEditor?
    let json: Bool
    /// How many deliveries could not be saved (each stays on the server for the next attempt).
    let storageFailures = LockedValue(0)
    /// Whether events are kept for ``all`` and for a handler set later.
    let retainEvents: Bool

    init(terminal: LineEditor?, json: Bool, retainEvents: Bool = true) {
        self.terminal = terminal
        self.json = json
        self.retainEvents = retainEvents
    }

    /// Routes events to `handler`, first replaying those recorded before it was set (deliveries
    /// processed during login arrive before the interactive loop starts).
    func setHandler(_ handler: (@Sendable (ClientEvent) -> Void)?) {
        let earlier = state.withLock { state -> [ClientEvent] in
            state.handler = handler
            return handler == nil ? [] : state.events
        }
        if let handler { earlier.forEach(handler) }
    }

    func record(_ event: ClientEvent) {
        let handler = state.withLock { state -> (@Sendable (ClientEvent) -> Void)? in
            if retainEvents { state.events.append(event) }
            return state.handler
        }
        if let handler {
            handler(event)
            return
        }
        switch event {
        case .identityChanged(let user):
            warn("WARNING: \(user)'s identity key has changed! Their safety number is different now. Messages to \(user) are held until you compare safety numbers and run 'verify \(user)' (or 'trust \(user)').")
        case .identityMismatch(let user):
            warn(Self.identityMismatchNotice(from: user))
        case .requestDeclined(let user):
            warn("\(user) declined your message request.")
        case .decryptionFailed(let user, let retryRequested):
            warn(Self.decryptionFailureNotice(from: user, retryRequested: retryRequested))
        case .storageFailed(let user, let error):
            storageFailures.withLock { $0 += 1 }
            warn(Self.storageFailureNotice(from: user, error: error))
        case .imageRefused(let user, let reason):
            warn("an image from \(user) was refused and dropped: \(displaySafeLine(reason))")
        case .imageSaveFailed(let user, let error):
            warn(Self.imageSaveFailureNotice(from: user, error: error))
        case .signedInElsewhere:
            warn("this account logged in elsewhere; this session has ended.")
        default:
            break
        }
    }

    /// The dim notice for a message no session could read: never a raw error name.
    static func decryptionFailureNotice(from user: Username, retryRequested: Bool) -> String {
        retryRequested
            ? "a message from \(user) could not be decrypted; asked \(user) to send it again"
            : "a message from \(user) could not be decrypted"
    }

    /// The warning for a first message whose identity key is not the one the server holds for its
    /// claimed sender (it was dropped).
    static func identityMismatchNotice(from user: Username) -> String {
        "WARNING: a first message claiming to be from \(user) carried another person's identity key; it was dropped"
    }

    /// The line for a received image kept sealed in history whose clear copy (the `save-images`
    /// setting) could not be written.
    static func imageSaveFailureNotice(from user: Username, error: StoreError) -> String {
        "an image from \(user) is in your history, but its clear copy could not be saved (\(displaySafeLine("\(error)"))); use /save to try again"
    }

    /// The line for a message that arrived but could not be saved (it stays on the server).
    static func storageFailureNotice(from user: Username, error: StoreError) -> String {
        "Could not save a message from \(user): \(displaySafeLine(error.saveFailureAdvice))"
    }

    func warn(_ text: String) {
        if let terminal, terminal.isInteractive {
            terminal.printAbove(text)
        } else {
            FileHandle.standardError.write(Data(("parley: " + text + "\n").utf8))
        }
    }

    var all: [ClientEvent] { state.withLock { $0.events } }

    var messages: [HistoryEntry] {
        all.compactMap { if case .message(let entry) = $0 { entry } else { nil } }
    }
}
