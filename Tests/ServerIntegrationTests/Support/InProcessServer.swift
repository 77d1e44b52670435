import InMemoryStore
import Logging
import Primitives
import SQLiteStore
import SecureChannel
import ServerCore
import SystemClock
import TCPTransport

/// Harness (a): the server application on SQLite in a temporary directory, behind the real NIO
/// transport on 127.0.0.1 and an ephemeral port, in this process. Argon2id runs at its minimum
/// cost so that logins take microseconds.
struct InProcessServer: Sendable {
    let port: Int
    let serverKey: X25519PublicKey
    let databasePath: String
    let transport: NIOServerTransport
}

extension IntegrationEnvironment {
    /// Starts a server, runs `body` against it, then stops accepting, waits for every handler and
    /// pending commit, closes the database and removes the directory, whether `body` threw or not.
    func withInProcessServer<Result: Sendable>(
        mailboxLimits: MailboxLimits = .standard,
        channelLimits: ChannelLimits = ChannelLimits(),
        clock: any Clock = SystemWallClock(),
        _ body: (InProcessServer) async throws -> Result
    ) async throws -> Result {
        let directory = try TemporaryDirectory("server")
        defer { directory.remove() }
        var configuration = ServerConfiguration(mailboxLimits: mailboxLimits)
        configuration.passwordCost = .minimum
        // Every test client comes from 127.0.0.1: the per-address limits have tests of their own.
        configuration.authenticationAttemptsPerAddress = AddressRateLimit(burst: 100_000, refillInterval: .milliseconds(1))
        let store = try SQLiteServerStore(dataDirectory: directory.path, mailboxLimits: mailboxLimits)
        defer { store.close() }
        let application = try ParleyServer(
            accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks,
            accountDeletion: store.accountDeletion,
            events: InMemoryEventBus(), crypto: crypto, random: random, clock: clock,
            configuration: configuration, logger: .quiet)
        let keys = try keyPair()
        let transport = try await NIOServerTransport.bind(
            host: "127.0.0.1", port: 0, localStatic: keys, crypto: crypto, random: random,
            limits: channelLimits, logger: .quiet)
        let server = InProcessServer(
            port: transport.localPort, serverKey: keys.publicKey,
            databasePath: directory.file(SQLiteServerStore.fileName), transport: transport)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask {
                do {
                    try await transport.serve(application)
                } catch where Task.isCancelled {
                    // Stopping the listener surfaces as a closed channel: expected.
                }
            }
            let outcome: Swift.Result<Result, any Error>
            do { outcome = .success(try await body(server)) } catch { outcome = .failure(error) }
            group.cancelAll()
            try await group.waitForAll()
            await application.drain()
            return try outcome.get()
        }
    }
}
