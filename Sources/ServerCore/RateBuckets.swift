import Primitives

/// Token buckets keyed by name: each key may take `capacity` tokens at once and gets one back per
/// `refill`. Bounded: at most `maxKeys` buckets are kept; full buckets are dropped first (they hold
/// no information), then the one refilled longest ago.
///
/// A value type, applied under its owner's lock; time comes in as a parameter.
struct RateBuckets: Sendable {
    private struct Bucket: Sendable {
        var tokens: Int
        var refilledAt: Timestamp
    }

    let capacity: Int
    let refill: Duration
    let maxKeys: Int
    private var buckets: [String: Bucket] = [:]

    init(capacity: Int, refill: Duration, maxKeys: Int) {
        self.capacity = capacity
        self.refill = refill
        self.maxKeys = maxKeys
    }

    var count: Int { buckets.count }

    /// Takes one token for `key` at `now`: nil when taken, else how long until one is back.
    mutating func take(_ key: String, at now: Timestamp) -> Duration? {
        var bucket = current(key, at: now)
        guard bucket.tokens > 0 else {
            return bucket.refilledAt.adding(refill).since(now)
        }
        bucket.tokens -= 1
        if buckets[key] == nil, buckets.count >= maxKeys { evict(at: now) }
        buckets[key] = bucket
        return nil
    }

    private func current(_ key: String, at now: Timestamp) -> Bucket {
        guard var bucket = buckets[key] else { return Bucket(tokens: capacity, refilledAt: now) }
        let period = Self.milliseconds(refill)
        let elapsed = now.millisecondsSinceEpoch - bucket.refilledAt.millisecondsSinceEpoch
        if period > 0, elapsed >= period {
            let steps = elapsed / period
            bucket.tokens = Int(clamping: min(Int64(capacity), Int64(bucket.tokens) + steps))
            bucket.refilledAt = bucket.tokens == capacity
                ? now : Timestamp(millisecondsSinceEpoch: bucket.refilledAt.millisecondsSinceEpoch + steps * period)
        }
        return bucket
    }

    private mutating func evict(at now: Timestamp) {
        let before = buckets.count
        buckets = buckets.filter { key, _ in current(key, at: now).tokens < capacity }
        if buckets.count < before { return }
        if let stalest = buckets.min(by: { $0.value.refilledAt < $1.value.refilledAt })?.key { buckets[stalest] = nil }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
