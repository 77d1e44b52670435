import ArgumentParser
import Foundation
import InMemoryStore
import Logging
import Primitives
import SQLiteStore
import SecureChannel
import ServerCore
import ServiceLifecycle
import SodiumCrypto
import SystemClock
import TCPTransport

/// `parley-server`: the composition root. It wires the SQLite stores, the in-process event bus,
/// libsodium and the NIO transport into the server application, runs it, and shuts it down
/// cleanly on SIGINT or SIGTERM.
@main
struct ParleyServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-server",
        abstract: "The Parley server: stores and forwards end-to-end encrypted envelopes.",
        discussion: "The data directory holds the database (parley-server.sqlite) and the server's static key.")

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port to listen on.")
    var port = 50007

    @Option(name: .customLong("data-dir"), help: "Directory for the database and the server key.")
    var dataDirectory = "./parley-data"

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

    @Flag(name: .customLong("print-key"), help: "Print the server's static public key (64 hex characters) and exit.")
    var printKey = false

    /// Hidden, for benchmarks only: hash new passwords at libsodium's minimum Argon2id cost, so that
    /// logging in thousands of pre-populated benchmark accounts does not upgrade each stored hash to
    /// the interactive cost (64 MiB, two at a time). Offers no protection; never use it for real.
    @Option(name: .customLong("insecure-password-cost-for-benchmarks"), help: .hidden)
    var insecurePasswordCost: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard maxConnectionsPerAddress > 0 else { throw ValidationError("--max-connections-per-address must be positive") }
        guard loginsPerAddress > 0 else { throw ValidationError("--logins-per-address must be positive") }
        guard loginQueue >= 0 else { throw ValidationError("--login-queue must not be negative") }
        guard insecurePasswordCost == nil || insecurePasswordCost == "minimum" else {
            throw ValidationError("--insecure-password-cost-for-benchmarks accepts only \"minimum\"")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "parley.server")
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()

        let staticKey: X25519KeyPair
        do {
            staticKey = try ServerKeyFile.loadOrCreate(in: dataDirectory, crypto: crypto, random: random)
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
        let store: SQLiteServerStore
        do {
            store = try SQLiteServerStore(dataDirectory: dataDirectory, mailboxLimits: configuration.mailboxLimits)
        } catch {
            throw fail("cannot open the database in \(dataDirectory): \(error)")
        }
        let application = try ParleyServer(
            accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks,
            accountDeletion: store.accountDeletion,
            events: InMemoryEventBus(), crypto: crypto, random: random, clock: SystemWallClock(),
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
            "data-dir": "\(dataDirectory)",
        ])

        let service = ServerService(transport: transport, application: application, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        await application.drain()
        store.close()
        logger.notice("stopped cleanly")
    }

    private func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("parley-server: \(message)\n".utf8))
        return ExitCode(1)
    }
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
