import Primitives
import SecureChannel

/// How often one source address may attempt something: a token bucket of `burst` attempts that
/// refills by one every `refillInterval`.
public struct AddressRateLimit: Sendable, Equatable {
    /// Attempts allowed back to back from an address with a full bucket.
    public var burst: Int
    /// The time for one attempt to come back.
    public var refillInterval: Duration

    public init(burst: Int, refillInterval: Duration) {
        self.burst = max(burst, 1)
        self.refillInterval = max(refillInterval, .milliseconds(1))
    }
}

/// Limits attempts per ``SourceAddress`` (token buckets, time from the ``Clock`` port): the server
/// admits logins and registrations through one, so that a single address cannot keep the password
/// hashing pool busy or register accounts without bound, whatever names it tries.
///
/// Memory is bounded: at most `maxTrackedAddresses` buckets are kept; when full, buckets that have
/// refilled completely (they hold nothing an entry would remember) are dropped first, and if every
/// bucket is still in use a new address is refused until one refills. A connection without an
/// address (in-memory) is not limited here.
final class SourceAddressLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Timestamp
    }

    private let limit: AddressRateLimit
    private let clock: any Clock
    private let maxTrackedAddresses: Int
    private let buckets = LockedValue<[SourceAddress: Bucket]>([:])

    init(limit: AddressRateLimit, clock: any Clock, maxTrackedAddresses: Int = 100_000) {
        self.limit = limit
        self.clock = clock
        self.maxTrackedAddresses = max(maxTrackedAddresses, 1)
    }

    /// Takes one attempt for `address`: nil when allowed, else how long until the next one is.
    func admit(_ address: SourceAddress?) -> Duration? {
        guard let address else { return nil }
        let now = clock.now()
        let refillSeconds = Double(limit.refillInterval.components.seconds) + Double(limit.refillInterval.components.attoseconds) / 1e18
        return buckets.withLock { buckets -> Duration? in
            func refilled(_ bucket: Bucket) -> Double {
                let elapsed = Double(max(0, now.millisecondsSinceEpoch - bucket.updated.millisecondsSinceEpoch)) / 1000
                return min(Double(limit.burst), bucket.tokens + elapsed / refillSeconds)
            }
            if buckets[address] == nil, buckets.count >= maxTrackedAddresses {
                buckets = buckets.filter { refilled($0.value) < Double(limit.burst) }
                guard buckets.count < maxTrackedAddresses else { return limit.refillInterval }
            }
            var bucket = buckets[address].map { Bucket(tokens: refilled($0), updated: now) } ?? Bucket(tokens: Double(limit.burst), updated: now)
            guard bucket.tokens >= 1 else {
                buckets[address] = bucket
                return .milliseconds(Int64(((1 - bucket.tokens) * refillSeconds * 1000).rounded(.up)))
            }
            bucket.tokens -= 1
            buckets[address] = bucket
            return nil
        }
    }
}
