import Primitives

/// The numbers that govern accounts, in one place (as libsignal keeps its limits in `consts.rs`).
public enum AccountLimits {
    /// Shortest password accepted at registration, in Unicode scalars.
    public static let minimumPasswordLength = 8
    /// Longest password accepted, in UTF-8 bytes. Argon2id pre-hashes any length, but an unbounded
    /// input would let one request make the server hash megabytes; a passphrase never needs more.
    public static let maximumPasswordBytes = 1024

    /// The failure that first locks an account: the 5th consecutive wrong password locks it for
    /// ``firstLockout``, and every further failure doubles the lock.
    public static let failuresBeforeLockout = 5
    /// How long the first lock lasts.
    public static let firstLockout: Duration = .seconds(1)
    /// The longest lock: doubling stops here (15 minutes), so a legitimate owner is never locked
    /// out for longer than this after an attack stops.
    public static let maximumLockout: Duration = .seconds(15 * 60)

    /// Failed logins from one source address, across all names, before that address is locked
    /// (for ``firstLockout``, doubling to ``maximumLockout`` like an account's lock).
    public static let sourceFailuresBeforeLockout = 20
    /// One failure is forgotten per this much time, for each (account, address) pair and each
    /// address: a lock never outlives the attack by much, and old failures do not add up.
    public static let loginFailureDecay: Duration = .seconds(5 * 60)

    /// Most (account, address) pairs, and most addresses, the login throttle tracks at once
    /// (about 100 bytes each); beyond it the stalest entry is forgotten.
    public static let maxThrottledKeys = 100_000

    /// Longest name the login throttle keys by (a valid username is at most 32 bytes).
    static let maximumThrottledNameBytes = 64

    /// How often a login retries its compare-and-set of the throttle fields when concurrent
    /// attempts on the same account keep changing them. Every lost race means another attempt was
    /// counted, so the account is locked after a handful of rounds; the bound only stops a
    /// pathological livelock.
    static let throttleUpdateAttempts = 16
}
