import Prekeys

/// Every bound the server holds its users to, in one place (as libsignal keeps its limits in
/// `consts.rs`); Architecture.md's "Limits" section lists them with their reasons, and a test pins
/// each. ``MailboxLimits/standard`` and ``ServerConfiguration``'s defaults are built from these, so
/// the documentation, the store and the server cannot disagree.
public enum ServerLimits {
    // MARK: Mailboxes (issue 10, finding 11)

    /// Most envelopes waiting for one recipient.
    public static let maxEnvelopesPerRecipient = 10_000
    /// Most payload bytes waiting for one recipient (256 MiB).
    public static let maxBytesPerRecipient = 256 << 20
    /// Largest envelope the server stores (11 MiB): room for the largest image message
    /// (`WireLimits.maxEnvelopeBytes`, about 10 MiB).
    public static let maxPayloadBytes = 11 << 20
    /// Most envelopes one sender may have waiting for one recipient: a quarter of the queue, so
    /// that a stranger cannot fill an offline user's mailbox and have real senders refused.
    public static let maxEnvelopesPerSenderPerRecipient = maxEnvelopesPerRecipient / 4
    /// Most payload bytes one sender may have waiting for one recipient (64 MiB).
    public static let maxBytesPerSenderPerRecipient = maxBytesPerRecipient / 4
    /// Most payload bytes waiting in all mailboxes together: the disk quota for mail (16 GiB).
    /// Past it sends are refused as `unavailable` until recipients collect their mail.
    public static let maxMailboxBytesTotal = 16 << 30

    // MARK: Sends in flight (issue 10, finding 11)

    /// Most sends one connection may have waiting for their commit.
    public static let maxInFlightSendsPerConnection = 1024
    /// Most payload bytes of those sends together (32 MiB, three image messages): one connection
    /// can no longer make the server hold 1,024 x 10 MiB.
    public static let maxInFlightSendBytesPerConnection = 32 << 20

    // MARK: Registration (issue 10, finding 11)

    /// Registrations the whole server accepts at once...
    public static let registrationBurst = 100
    /// ...and then one more per this long (8,640 a day).
    public static let registrationRefill: Duration = .seconds(10)

    // MARK: Prekeys (issue 10, finding 11)

    /// Most one-time prekeys one account may have on the server (``PrekeyPolicy``'s number).
    public static let maxOneTimePrekeysPerAccount = PrekeyPolicy.maxOneTimePrekeysPerAccount

    // MARK: Bundle fetches (issue 10, finding 7)

    /// Bundles one account may fetch at once...
    public static let bundleFetchesPerRequesterBurst = 30
    /// ...and then one more per this long (30 a minute).
    public static let bundleFetchRefillPerRequester: Duration = .seconds(2)
    /// One-time prekeys one account hands out at once (to all requesters together)...
    public static let oneTimePrekeysPerTargetBurst = 20
    /// ...and then one more per this long; beyond that, bundles come without one.
    public static let oneTimePrekeyRefillPerTarget: Duration = .seconds(30)
    /// Most keys each in-memory rate-limit table tracks (stalest forgotten first).
    public static let maxRateLimitedKeys = 100_000
}
