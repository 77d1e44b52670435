import Primitives

/// Limits prekey bundle fetches per requester and one-time prekeys handed out per target, so that
/// nobody can drain another user's one-time prekeys (issue 10, finding 7).
///
/// - A requester (an account, over all its connections) may fetch
///   ``ServerLimits/bundleFetchesPerRequesterBurst`` bundles at once and one more per
///   ``ServerLimits/bundleFetchRefillPerRequester``; beyond that a fetch is refused as `throttled`.
/// - A target hands out ``ServerLimits/oneTimePrekeysPerTargetBurst`` one-time prekeys at once and
///   one more per ``ServerLimits/oneTimePrekeyRefillPerTarget``; beyond that the bundle comes
///   without a one-time prekey. X3DH allows that (three DH outputs instead of four), so a popular
///   user can still be reached by everyone while their pool stays above the low-water mark.
///   Refusing instead was rejected: it would let any attacker make everyone unreachable.
///
/// In memory, per server process, bounded (``ServerLimits/maxRateLimitedKeys`` per table).
final class BundleFetchLimiter: Sendable {
    enum Decision: Sendable, Equatable {
        /// Hand out the bundle with a one-time prekey.
        case withOneTimePrekey
        /// Hand out the bundle without taking a one-time prekey.
        case withoutOneTimePrekey
        /// Refuse; the requester may try again after this long.
        case refused(retryAfter: Duration)
    }

    private struct State: Sendable {
        var requesters: RateBuckets
        var targets = RateBuckets(
            capacity: ServerLimits.oneTimePrekeysPerTargetBurst, refill: ServerLimits.oneTimePrekeyRefillPerTarget,
            maxKeys: ServerLimits.maxRateLimitedKeys)
    }

    private let state: LockedValue<State>

    /// - Parameter requesterBurst: bundles one requester may fetch at once before the refill
    ///   rate applies (``ServerLimits/bundleFetchesPerRequesterBurst`` unless configured).
    init(requesterBurst: Int = ServerLimits.bundleFetchesPerRequesterBurst) {
        state = LockedValue(State(requesters: RateBuckets(
            capacity: requesterBurst, refill: ServerLimits.bundleFetchRefillPerRequester, maxKeys: ServerLimits.maxRateLimitedKeys)))
    }

    /// Decides one fetch of `target`'s bundle by `requester` at `now`.
    func decide(requester: Username, target: Username, at now: Timestamp) -> Decision {
        state.withLock { state in
            if let wait = state.requesters.take(requester.value, at: now) { return .refused(retryAfter: wait) }
            return state.targets.take(target.value, at: now) == nil ? .withOneTimePrekey : .withoutOneTimePrekey
        }
    }
}
