/// The bounds of the conversation layer, in one place.
public enum ConversationLimits {
    /// Most message keys skipped in one receiving chain for a single incoming message (MAX_SKIP).
    public static let maxSkip: UInt32 = 1000
    /// Most skipped message keys kept per session; the oldest are evicted first.
    public static let maxSkippedMessageKeys = 2000
    /// Previous sessions kept per peer besides the current one (libsignal keeps 40 too): enough for
    /// two people who keep starting sessions at once to converge, bounded so that a peer who
    /// floods prekey messages cannot grow the record without end.
    public static let maxPreviousSessions = 40
    /// Server delivery ids remembered per peer, so that a delivery processed but not acknowledged
    /// (a crash between the commit and the acknowledgement) is recognised when it comes again,
    /// even after its chain has moved on (the ratchet alone would call it unreadable then).
    public static let maxRememberedDeliveries = 512
    /// The longest X3DH associated data a stored session may hold: two identity keys and two
    /// length-prefixed usernames (at most 64 UTF-8 bytes each, as on the wire). Sessions made
    /// before the usernames were added hold the 64 bytes of the two keys alone.
    public static let maxAssociatedDataBytes = 2 * 32 + 2 * (4 + 64)
    /// Iterations of SHA-512 per safety-number half.
    public static let safetyNumberIterations = 5200
}
