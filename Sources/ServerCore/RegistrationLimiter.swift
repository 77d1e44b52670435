import Primitives

/// Limits registrations over the whole server (issue 10, finding 11: registration was unlimited,
/// so anyone could create accounts, each with up to 1,000 prekeys, until the disk was full).
///
/// ``ServerLimits/registrationBurst`` at once, then one per ``ServerLimits/registrationRefill``
/// (``ServerConfiguration`` can raise them, as the benchmarks do),
/// whoever registers; per-address limits come on top (issue 10, finding 1). The trade-off: one
/// client with many addresses can use up the trickle and delay other people's sign-ups, but not
/// fill the disk, and existing accounts are not affected. A cap on the number of accounts was
/// rejected: an attacker who reached it would block sign-ups for good.
final class RegistrationLimiter: Sendable {
    private let bucket: LockedValue<RateBuckets>

    init(burst: Int, refill: Duration) {
        bucket = LockedValue(RateBuckets(capacity: burst, refill: refill, maxKeys: 1))
    }

    /// Takes one registration at `now`: nil when allowed, else how long until one is.
    func take(at now: Timestamp) -> Duration? {
        bucket.withLock { $0.take("server", at: now) }
    }
}
