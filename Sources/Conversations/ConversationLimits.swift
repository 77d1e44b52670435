/// The bounds of the conversation layer, in one place.
public enum ConversationLimits {
    /// Most message keys skipped in one receiving chain for a single incoming message (MAX_SKIP).
    public static let maxSkip: UInt32 = 1000
    /// Most skipped message keys kept per session; the oldest are evicted first.
    public static let maxSkippedMessageKeys = 2000
    /// Iterations of SHA-512 per safety-number half.
    public static let safetyNumberIterations = 5200
}
