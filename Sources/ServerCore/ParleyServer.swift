import Accounts
import Logging
import Prekeys
import Primitives
import SecureChannel
import Synchronization
import WireProtocol

/// The server application: what Parley's server does with each authenticated connection.
///
/// It speaks the wire protocol over any ``FrameConnection`` (the transport adapter provides them)
/// and keeps all state in the store ports, so that nothing a second node would need lives only in
/// this process except the live connections themselves. It never sees a plaintext or a user's
/// private key: envelopes are opaque, prekeys are public halves, passwords are hashed at once.
public final class ParleyServer: FrameConnectionHandler {
    struct Dependencies: Sendable {
        let accounts: any AccountStore
        let accountService: AccountService
        let prekeys: any PrekeyStore
        let mailbox: any MailboxStore
        let blocks: any BlockStore
        let events: any AccountEventBus
        let verifier: PrekeyBundleVerifier
        let random: any RandomSource
        let clock: any Clock
        let configuration: ServerConfiguration
        let logger: Logger
        /// Reads and small writes.
        let storage: BlockingExecutor
        /// Argon2id, bounded in concurrency (each run takes tens of MiB).
        let hashing: BlockingExecutor
        let batcher: EnvelopeBatcher
        /// Per-requester and per-target limits on bundle fetches.
        let bundleFetches: BundleFetchLimiter
        /// The server-wide registration budget.
        let registrations: RegistrationLimiter
    }

    private let dependencies: Dependencies
    private let sessionCount = SessionCounter()

    /// - Throws: ``AccountError/hashingFailed(_:)`` if the password cost cannot run here.
    public init(
        accounts: any AccountStore, prekeys: any PrekeyStore, mailbox: any MailboxStore, blocks: any BlockStore,
        events: any AccountEventBus, crypto: any CryptoProvider, random: any RandomSource, clock: any Clock,
        configuration: ServerConfiguration = ServerConfiguration(), logger: Logger
    ) throws(AccountError) {
        let hasher = Argon2idPasswordHasher(crypto: crypto, cost: configuration.passwordCost)
        let writer = BlockingExecutor(label: "parley.mailbox-writer", serial: true)
        dependencies = Dependencies(
            accounts: accounts,
            accountService: try AccountService(store: accounts, hasher: hasher, clock: clock),
            prekeys: prekeys, mailbox: mailbox, blocks: blocks, events: events,
            verifier: PrekeyBundleVerifier(crypto: crypto), random: random, clock: clock,
            configuration: configuration, logger: logger,
            storage: BlockingExecutor(label: "parley.storage", serial: false, width: 4),
            hashing: BlockingExecutor(label: "parley.password-hashing", serial: false, width: configuration.maxConcurrentPasswordHashes),
            batcher: EnvelopeBatcher(store: mailbox, events: events, writer: writer, maxBatchSize: configuration.maxBatchSize),
            bundleFetches: BundleFetchLimiter(),
            registrations: RegistrationLimiter(burst: configuration.registrationBurst, refill: configuration.registrationRefill))
    }

    /// Waits until every accepted send is committed and every store call has returned, so the
    /// stores can be closed. Call after the transport has stopped.
    public func drain() async {
        await dependencies.batcher.drain()
        await dependencies.storage.drain()
    }

    /// Logged-in sessions on this node.
    public var activeSessions: Int { sessionCount.current }

    public func serve(_ connection: any FrameConnection, inbound: InboundFrames) async {
        let session = ConnectionSession(connection: connection, dependencies: dependencies, sessionCount: sessionCount)
        let deadline = dependencies.configuration.loginDeadline
        let logger = dependencies.logger
        let loginWatch = Task {
            try? await Task.sleep(for: deadline)
            guard !Task.isCancelled, await !session.hasLoggedIn else { return }
            logger.info("closing a connection that did not log in", metadata: ["connection": "\(connection.id)"])
            await connection.close()
        }
        defer { loginWatch.cancel() }
        // Once logged in, the watch has nothing left to do: end it now rather than keep a
        // sleeping task (and its timer) per idle connection until the deadline.
        var watching = true
        do {
            for try await frame in inbound {
                if await session.receive(frame), watching {
                    loginWatch.cancel()
                    watching = false
                }
            }
        } catch {
            dependencies.logger.debug("connection ended", metadata: ["connection": "\(connection.id)", "reason": "\(error)"])
        }
        await session.end()
    }
}
