import Accounts
import ArgumentParser
import Foundation
import InMemoryStore
import Logging
import PostgresStore
import Prekeys
import Primitives
import SQLiteStore
import SecureChannel
import ServerCore
import ServiceLifecycle
import SodiumCrypto
import SystemClock
import TCPTransport

/// `parley-server`: the composition root. It wires the stores and event bus (SQLite and the
/// in-process bus by default; PostgreSQL and its LISTEN/NOTIFY bus with `--database`), libsodium
/// and the NIO transport into the server application, runs it, and shuts it down cleanly on
/// SIGINT or SIGTERM.
@main
struct ParleyServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-server",
        abstract: "The Parley server: stores and forwards end-to-end encrypted envelopes.",
        discussion: """
            The data directory holds the server's static key and, without --database, the SQLite database \
            (parley-server.sqlite). With --database (or PARLEY_DATABASE_URL) the stores are in PostgreSQL, shared by \
            every node given the same URL; give each node its own --node-id and the same --key-file (made once with \
            --key-file PATH --print-key, then copied with mode 0600 to every node).
            """)

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port to listen on.")
    var port = 50007

    @Option(name: .customLong("data-dir"), help: "Directory for the database and the server key.")
    var dataDirectory = "./parley-data"

    @Option(name: .customLong("database"), help: ArgumentHelp(
        "PostgreSQL database shared by several nodes: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (default: PARLEY_DATABASE_URL, else SQLite in --data-dir).",
        valueName: "url"))
    var databaseURL: String?

    @Option(name: .customLong("node-id"), help: "This node's name in logs and in the shared database (letters, digits, '.', '_', '-'; default: host-pid).")
    var nodeID: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("max-connections"), help: "Most connections open at once.")
    var maxConnections = ChannelLimits().maxConnections

    @Option(name: .customLong("max-connections-per-address"), help: "Most connections open at once from one IPv4 address or IPv6 /64.")
    var maxConnectionsPerAddress = ChannelLimits().maxConnectionsPerAddress

    @Option(name: .customLong("logins-per-address"), help: "Logins and registrations allowed per minute from one address (also the burst).")
    var loginsPerAddress = ServerConfiguration().authenticationAttemptsPerAddress.burst

    @Option(name: .customLong("login-queue"), help: "Logins and registrations that may wait for a password-hashing thread; more are told to retry.")
    var loginQueue = ServerConfiguration().maxQueuedPasswordHashes

    @Option(name: .customLong("key-file"), help: ArgumentHelp(
        "The server's static key (32 bytes, mode 0600), shared by every node of a cluster; created only by --print-key (default: server-static-key in --data-dir, created on first start).",
        valueName: "path"))
    var keyFile: String?

    @Flag(name: .customLong("print-key"), help: "Print the server's static public key (64 hex characters) and exit; with --key-file, creates that file first if it does not exist.")
    var printKey = false

    /// Hidden, for benchmarks only: hash new passwords at libsodium's minimum Argon2id cost, so that
    /// logging in thousands of pre-populated benchmark accounts does not upgrade each stored hash to
    /// the interactive cost (64 MiB, two at a time). Offers no protection; never use it for real.
    @Option(name: .customLong("insecure-password-cost-for-benchmarks"), help: .hidden)
    var insecurePasswordCost: String?

    /// Hidden, for benchmarks only: record the start and duration of every mailbox commit and write
    /// them to this file when the server stops (``CommitTimesRecorder``), so that a benchmark
    /// driving this process from outside can report the commit-time distribution.
    @Option(name: .customLong("commit-times-file"), help: .hidden)
    var commitTimesFile: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard maxConnectionsPerAddress > 0 else { throw ValidationError("--max-connections-per-address must be positive") }
        guard loginsPerAddress > 0 else { throw ValidationError("--logins-per-address must be positive") }
        guard loginQueue >= 0 else { throw ValidationError("--login-queue must not be negative") }
        if let nodeID {
            guard (1...64).contains(nodeID.count), nodeID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                throw ValidationError("--node-id must be 1 to 64 letters, digits, '.', '_' or '-'")
            }
        }
        if let url = resolvedDatabaseURL {
            do { _ = try PostgresDatabaseURL(parsing: url) } catch { throw ValidationError("--database: \(error)") }
        }
        guard insecurePasswordCost == nil || insecurePasswordCost == "minimum" else {
            throw ValidationError("--insecure-password-cost-for-benchmarks accepts only \"minimum\"")
        }
        if let commitTimesFile, commitTimesFile.isEmpty { throw ValidationError("--commit-times-file needs a path") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let node = nodeID ?? Self.defaultNodeID()
        var logger = Logger(label: "parley.server")
        logger[metadataKey: "node"] = "\(node)"
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()

        let staticKey: X25519KeyPair
        do {
            if let keyFile {
                staticKey = try ServerKeyFile.load(path: keyFile, createIfMissing: printKey, crypto: crypto, random: random)
            } else {
                staticKey = try ServerKeyFile.loadOrCreate(in: dataDirectory, crypto: crypto, random: random)
            }
        } catch {
            throw fail("\(error)")
        }
        if printKey {
            print(Hex.encode(staticKey.publicKey.bytes))
            return
        }

        var configuration = ServerConfiguration()
        configuration.maxQueuedPasswordHashes = loginQueue
        configuration.authenticationAttemptsPerAddress = AddressRateLimit(
            burst: loginsPerAddress, refillInterval: .milliseconds(max(1, 60_000 / loginsPerAddress)))
        if insecurePasswordCost != nil {
            configuration.passwordCost = .minimum
            logger.warning("password hashing at the minimum Argon2id cost: for benchmarks only, never for real accounts")
        }
        let commitTimes: CommitTimesRecorder?
        do {
            commitTimes = try commitTimesFile.map { try CommitTimesRecorder(path: $0) }
        } catch {
            throw fail("cannot write --commit-times-file \(commitTimesFile ?? ""): \(error)")
        }
        let storage = try await openStorage(node: node, mailboxLimits: configuration.mailboxLimits, logger: logger)
        let mailbox = commitTimes.map { $0.timing(storage.mailbox) } ?? storage.mailbox
        let application = try ParleyServer(
            accounts: storage.accounts, prekeys: storage.prekeys, mailbox: mailbox, blocks: storage.blocks,
            accountDeletion: storage.accountDeletion,
            events: storage.events, crypto: crypto, random: random, clock: SystemWallClock(),
            configuration: configuration, logger: logger)

        var limits = ChannelLimits()
        limits.maxConnections = maxConnections
        limits.maxConnectionsPerAddress = maxConnectionsPerAddress
        let transport: NIOServerTransport
        do {
            transport = try await NIOServerTransport.bind(
                host: host, port: port, localStatic: staticKey, crypto: crypto, random: random, limits: limits,
                logger: Logger(label: "parley.transport"))
        } catch {
            throw fail("cannot listen on \(host):\(port): \(error)")
        }
        logger.notice("listening", metadata: [
            "address": "\(host):\(transport.localPort)", "key": "\(Hex.encode(staticKey.publicKey.bytes))",
            "data-dir": "\(dataDirectory)", "storage": "\(storage.name)",
        ])

        let service = ServerService(transport: transport, application: application, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        await application.drain()
        await Self.offCooperativePool { storage.close() }
        if let commitTimes {
            do {
                try commitTimes.write()
            } catch {
                logger.error("cannot write the commit times", metadata: ["path": "\(commitTimes.path)", "error": "\(error)"])
            }
        }
        logger.notice("stopped cleanly")
    }

    private var resolvedDatabaseURL: String? {
        databaseURL ?? ProcessInfo.processInfo.environment["PARLEY_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// SQLite in the data directory with the in-process bus, or PostgreSQL with its bus. Opening
    /// PostgreSQL blocks until it answers, so it runs on a thread of its own, not Swift's pool.
    private func openStorage(node: String, mailboxLimits: MailboxLimits, logger: Logger) async throws -> ServerStorage {
        guard let text = resolvedDatabaseURL else {
            do {
                let store = try SQLiteServerStore(dataDirectory: dataDirectory, mailboxLimits: mailboxLimits)
                return ServerStorage(
                    name: "sqlite", accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks,
                    accountDeletion: store.accountDeletion, events: InMemoryEventBus(), close: { store.close() })
            } catch {
                throw fail("cannot open the database in \(dataDirectory): \(error)")
            }
        }
        let result = await Self.offCooperativePool { () -> Result<ServerStorage, StoreError> in
            do throws(StoreError) {
                let url = try PostgresDatabaseURL(parsing: text)
                let store = try PostgresServerStore(url: url, nodeID: node, mailboxLimits: mailboxLimits, logger: logger)
                let bus = PostgresEventBus(store: store, logger: logger)
                return .success(ServerStorage(
                    name: "\(url)", accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks,
                    accountDeletion: store.accountDeletion, events: bus, close: { bus.close(); store.close() }))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let storage): return storage
        case .failure(let error): throw fail("cannot open the PostgreSQL database: \(error)")
        }
    }

    private static func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: body()) }
        }
    }

    private static func defaultNodeID() -> String {
        let host = ProcessInfo.processInfo.hostName.prefix(40).map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "-" }
        return String(host) + "-\(ProcessInfo.processInfo.processIdentifier)"
    }

    private func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("parley-server: \(message)\n".utf8))
        return ExitCode(1)
    }
}

/// The stores and event bus the server runs on, and how to close them.
struct ServerStorage: Sendable {
    let name: String
    let accounts: any AccountStore
    let prekeys: any PrekeyStore
    let mailbox: any MailboxStore
    let blocks: any BlockStore
    let accountDeletion: any AccountDeletionStore
    let events: any AccountEventBus
    let close: @Sendable () -> Void
}

/// Runs the transport until graceful shutdown: then it stops accepting, lets the handlers finish
/// the request in hand, and returns.
struct ServerService: Service {
    let transport: NIOServerTransport
    let application: ParleyServer
    let logger: Logger

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await transport.serve(application)
                } catch where Task.isCancelled {
                    // Stopping the listener on shutdown surfaces as a closed channel: expected.
                }
            }
            // Returns when a shutdown signal arrives (or throws if the group is cancelled).
            try? await gracefulShutdown()
            logger.notice("shutting down", metadata: ["connections": "\(transport.connectionCount)"])
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}
