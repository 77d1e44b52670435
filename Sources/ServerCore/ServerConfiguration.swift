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
    /// Registrations the server accepts at once, and the time after which it accepts one more.
    public var registrationBurst: Int
    public var registrationRefill: Duration
    /// Envelopes read from the store per query when catching a connection up at login.
    public var catchUpPageSize: Int
    /// Argon2id cost for new password hashes.
    public var passwordCost: Argon2Cost
    /// How many Argon2id computations may run at once (each takes `passwordCost.memoryBytes`).
    public var maxConcurrentPasswordHashes: Int
    /// A connection that has not logged in or registered by then is closed, so that silent
    /// handshaken connections cannot hold connection slots forever.
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
        loginDeadline: Duration = .seconds(60)
    ) {
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
