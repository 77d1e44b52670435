/// The bounds of the client application, in one place.
public enum ClientLimits {
    /// The bounds of the sent-message log.
    public static let sentLog = SentLogLimits.standard
    /// How often one logged message is sent again after retry requests, so that two devices that
    /// keep failing cannot loop.
    public static let maxResends = 3
    /// Deliveries that could not be saved (a storage error) kept in memory for another attempt;
    /// beyond this they are left to the server, which delivers them again at the next login.
    public static let maxDeferredDeliveries = 1024
    /// How long after a failed save or resend the client tries again by itself (it also tries on
    /// the next push and at login).
    public static let retryDelay: Duration = .seconds(3)
    /// How many of a conversation's latest history entries are searched when its images are
    /// listed (every entry is opened, so this bounds the work).
    public static let maxImagesListed = 100_000
}

/// How much the sent-message log keeps. Adapters take it at construction (tests pass small
/// bounds, as the mailbox stores take ``MailboxLimits``); applications use ``standard``.
public struct SentLogLimits: Sendable, Equatable {
    /// Most entries; the oldest are forgotten first.
    public var maxEntries: Int
    /// Most bytes of logged content (images make entries large); the oldest go first, but the
    /// newest entry is always kept.
    public var maxBytes: Int
    /// How long a sent message can be asked for again.
    public var maxAge: Duration

    public init(maxEntries: Int, maxBytes: Int, maxAge: Duration) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.maxAge = maxAge
    }

    /// 10,000 entries, 64 MiB, 24 hours.
    public static let standard = SentLogLimits(maxEntries: 10_000, maxBytes: 64 << 20, maxAge: .seconds(24 * 60 * 60))
}
