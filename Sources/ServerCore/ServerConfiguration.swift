import Primitives

/// The server application's tunables, with production defaults (from ``ServerLimits``, where
/// every limit is named and documented).
public struct ServerConfiguration: Sendable {
    /// Per-recipient queue caps. The payload cap admits the largest envelope (an image message).
    public var mailboxLimits: MailboxLimits
    /// Most envelopes committed in one transaction (one fsync).
    public var maxBatchSize: Int
    /// Most sends one connection may have waiting for their commit; further requests wait.
    public var maxInFlightSendsPerConnection: Int
    /// Most payload bytes of those sends together; further requests wait. With the count above it
    /// bounds what one connection can make the server hold in memory.
    public var maxInFlightSendBytesPerConnection: Int
    /// Bundles one account may fetch at once before one per refill interval applies
    /// (``ServerLimits/bundleFetchesPerRequesterBurst``); tests that churn sessions raise it.
    public var bundleFetchesPerRequesterBurst = ServerLimits.bundleFetchesPerRequesterBurst
    /// Registrations the server accepts at once, and the time after which it accepts one more.
    public var registrationBurst: Int
    public var registrationRefill: Duration
    /// Envelopes read from the store per query when catching a connection up at login.
    public var catchUpPageSize: Int
    /// Argon2id cost for new password hashes.
    public var passwordCost: Argon2Cost
    /// How many Argon2id computations may run at once (each takes `passwordCost.memoryBytes`), on
    /// threads of their own.
    public var maxConcurrentPasswordHashes: Int
    /// How many logins and registrations of connections that are not logged in may wait for a
    /// hashing thread; more are answered `busy` at once. With the defaults an admitted login waits
    /// at most about 16 x 100 ms / 2 = 0.8 s.
    public var maxQueuedPasswordHashes: Int
    /// Logins and registrations per source address (every attempt counts, answered or refused):
    /// 30 at once, then one every 2 s (the terminal client logs in for every command, so a person
    /// scripting it needs some room). Past it the answer is `throttled`.
    public var authenticationAttemptsPerAddress: AddressRateLimit
    /// A connection that has not logged in or registered by then is closed, so that silent
    /// handshaken connections cannot hold connection slots forever. Measured from the handshake,
    /// and again from each logout.
    public var loginDeadline: Duration

    public init(
        mailboxLimits: MailboxLimits = .standard,
        maxBatchSize: Int = 4096,
        maxInFlightSendsPerConnection: Int = ServerLimits.maxInFlightSendsPerConnection,
        maxInFlightSendBytesPerConnection: Int = ServerLimits.maxInFlightSendBytesPerConnection,
        registrationBurst: Int = ServerLimits.registrationBurst,
        registrationRefill: Duration = ServerLimits.registrationRefill,
        catchUpPageSize: Int = 256,
        passwordCost: Argon2Cost = .interactive,
        maxConcurrentPasswordHashes: Int = 2,
        loginDeadline: Duration = .seconds(60),
        maxQueuedPasswordHashes: Int = 16,
        authenticationAttemptsPerAddress: AddressRateLimit = AddressRateLimit(burst: 30, refillInterval: .seconds(2))
    ) {
        self.maxQueuedPasswordHashes = maxQueuedPasswordHashes
        self.authenticationAttemptsPerAddress = authenticationAttemptsPerAddress
        self.mailboxLimits = mailboxLimits
        self.maxBatchSize = maxBatchSize
        self.maxInFlightSendsPerConnection = maxInFlightSendsPerConnection
        self.maxInFlightSendBytesPerConnection = maxInFlightSendBytesPerConnection
        self.registrationBurst = registrationBurst
        self.registrationRefill = registrationRefill
        self.catchUpPageSize = catchUpPageSize
        self.passwordCost = passwordCost
        self.maxConcurrentPasswordHashes = maxConcurrentPasswordHashes
        self.loginDeadline = loginDeadline
    }
}
