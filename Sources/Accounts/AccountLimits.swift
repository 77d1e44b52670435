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

    /// How often a login retries its compare-and-set of the throttle fields when concurrent
    /// attempts on the same account keep changing them. Every lost race means another attempt was
    /// counted, so the account is locked after a handful of rounds; the bound only stops a
    /// pathological livelock.
    static let throttleUpdateAttempts = 16
}
