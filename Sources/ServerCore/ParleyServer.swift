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
public final class ParleyServer: FrameEventHandler {
    struct Dependencies: Sendable {
        let accounts: any AccountStore
        let accountService: AccountService
        let prekeys: any PrekeyStore
        let mailbox: any MailboxStore
        let blocks: any BlockStore
        /// Account deletion across the four stores, in one transaction.
        let accountDeletion: any AccountDeletionStore
        let events: any AccountEventBus
        let verifier: PrekeyBundleVerifier
        let random: any RandomSource
        let clock: any Clock
        let configuration: ServerConfiguration
        let logger: Logger
        /// Reads and small writes.
        let storage: BlockingExecutor
        /// Argon2id on threads of its own, bounded in concurrency (each run takes tens of MiB) and,
        /// for connections not logged in, in queue length.
        let hashing: PasswordHashingPool
        /// Logins and registrations per source address.
        let authenticationLimiter: SourceAddressLimiter
        let batcher: EnvelopeBatcher
        /// Per-requester and per-target limits on bundle fetches.
        let bundleFetches: BundleFetchLimiter
        /// The server-wide registration budget.
        let registrations: RegistrationLimiter
        /// Connections' request and catch-up work, in tasks that nothing else awaits.
        let work = WorkTracker()
    }

    private let dependencies: Dependencies
    private let sessionCount = SessionCounter()

    /// - Throws: ``AccountError/hashingFailed(_:)`` if the password cost cannot run here.
    public init(
        accounts: any AccountStore, prekeys: any PrekeyStore, mailbox: any MailboxStore, blocks: any BlockStore,
        accountDeletion: any AccountDeletionStore, events: any AccountEventBus, crypto: any CryptoProvider, random: any RandomSource, clock: any Clock,
        configuration: ServerConfiguration = ServerConfiguration(), logger: Logger
    ) throws(AccountError) {
        let hasher = Argon2idPasswordHasher(crypto: crypto, cost: configuration.passwordCost)
        let writer = BlockingExecutor(label: "parley.mailbox-writer", serial: true)
        dependencies = Dependencies(
            accounts: accounts,
            accountService: try AccountService(store: accounts, hasher: hasher, clock: clock),
            prekeys: prekeys, mailbox: mailbox, blocks: blocks, accountDeletion: accountDeletion, events: events,
            verifier: PrekeyBundleVerifier(crypto: crypto), random: random, clock: clock,
            configuration: configuration, logger: logger,
            storage: BlockingExecutor(label: "parley.storage", serial: false, width: 4),
            hashing: PasswordHashingPool(
                label: "parley-hash", threads: configuration.maxConcurrentPasswordHashes,
                maxQueuedUnauthenticated: configuration.maxQueuedPasswordHashes),
            authenticationLimiter: SourceAddressLimiter(limit: configuration.authenticationAttemptsPerAddress, clock: clock),
            batcher: EnvelopeBatcher(store: mailbox, events: events, writer: writer, maxBatchSize: configuration.maxBatchSize),
            bundleFetches: BundleFetchLimiter(requesterBurst: configuration.bundleFetchesPerRequesterBurst),
            registrations: RegistrationLimiter(burst: configuration.registrationBurst, refill: configuration.registrationRefill))
    }

    /// Waits until every accepted send is committed and every store call has returned, so the
    /// stores can be closed. Call after the transport has stopped.
    public func drain() async {
        await dependencies.work.drain()
        await dependencies.hashing.drain()
        await dependencies.batcher.drain()
        await dependencies.storage.drain()
    }

    /// Logged-in sessions on this node.
    public var activeSessions: Int { sessionCount.current }

    /// The stateless request handlers over this server's stores (what each connection's state machine
    /// dispatches to); for tests that exercise a handler without a connection.
    var requestHandlers: RequestHandlers { RequestHandlers(deps: dependencies) }

    /// Makes the state machine of a new connection (see ``ConnectionSession``); the transport
    /// calls it on the connection's context once the handshake is done.
    public func accept(_ connection: any FrameEventConnection) -> any FrameEventReceiver {
        ConnectionSession(connection: connection, dependencies: dependencies, sessionCount: sessionCount)
    }
}
