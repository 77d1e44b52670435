import Primitives

/// An account's login back-off state, and the pure rules that move it.
///
/// After ``AccountLimits/failuresBeforeLockout`` consecutive failures the account is locked for
/// ``AccountLimits/firstLockout`` (1 s); each further failure doubles the lock, up to
/// ``AccountLimits/maximumLockout`` (15 min). A success clears everything. While locked, an attempt
/// is refused without looking at the password and is not counted, so an attacker cannot extend
/// the lock indefinitely by hammering, nor guess at all while it lasts.
///
/// The rules return new values; ``AccountStore`` applies them with a compare-and-set so that
/// concurrent attempts are all counted.
///
/// Since issue 10 (finding 6) ``AccountService`` throttles through ``LoginThrottlePolicy``
/// instead (per name and source address, and per address, with decay); it uses this type's lock
/// schedule, ``lockDuration(afterFailures:threshold:)``, and no longer reads or writes the stored
/// per-account fields, which stay in the store (and its contract) until a schema migration drops
/// them.
public struct LoginThrottle: Sendable, Hashable {
    /// Consecutive failures since the last success.
    public var failedLoginCount: Int
    /// The end of the current lock, if any (it may lie in the past: the lock has then expired).
    public var lockedUntil: Timestamp?

    public init(failedLoginCount: Int, lockedUntil: Timestamp?) {
        self.failedLoginCount = failedLoginCount
        self.lockedUntil = lockedUntil
    }

    /// No failures, no lock.
    public static let clear = LoginThrottle(failedLoginCount: 0, lockedUntil: nil)

    /// How long a login must still wait at `now`, or nil when it may proceed.
    public func remainingLock(at now: Timestamp) -> Duration? {
        guard let lockedUntil, now < lockedUntil else { return nil }
        return lockedUntil.since(now)
    }

    /// The state after one more failure at `now`.
    public func recordingFailure(at now: Timestamp) -> LoginThrottle {
        // Saturating: a stored count is data, and data must not be able to trap the server.
        let count = failedLoginCount == .max ? .max : failedLoginCount + 1
        guard let lock = Self.lockDuration(afterFailures: count) else {
            return LoginThrottle(failedLoginCount: count, lockedUntil: nil)
        }
        return LoginThrottle(failedLoginCount: count, lockedUntil: now.adding(lock))
    }

    /// The lock imposed by the `failures`-th consecutive failure: none before
    /// ``AccountLimits/failuresBeforeLockout``, then 1 s, 2 s, 4 s ... capped at 15 min.
    public static func lockDuration(afterFailures failures: Int) -> Duration? {
        lockDuration(afterFailures: failures, threshold: AccountLimits.failuresBeforeLockout)
    }

    /// The same schedule for a counter that locks at its `threshold`-th failure.
    public static func lockDuration(afterFailures failures: Int, threshold: Int) -> Duration? {
        let doublings = failures - threshold
        guard doublings >= 0 else { return nil }
        // 2^10 s already exceeds the cap; stopping the shift there keeps it from overflowing.
        let factor = 1 << min(doublings, 10)
        return min(AccountLimits.firstLockout * factor, AccountLimits.maximumLockout)
    }
}
