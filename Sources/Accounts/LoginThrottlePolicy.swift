import Primitives

/// The login throttle: failures counted per (account, source address) and per source address,
/// each forgotten one per ``AccountLimits/loginFailureDecay``.
///
/// Why this shape (issue 10, finding 6): a lock keyed by the account alone let anyone keep any
/// account locked, and answering "locked" only for names that exist told a stranger which names
/// do. Here:
/// - ``AccountLimits/failuresBeforeLockout`` failures for one name from one address lock that
///   pair (1 s, doubling to 15 min); the owner, from an address with no failures, is unaffected.
/// - ``AccountLimits/sourceFailuresBeforeLockout`` failures from one address, across all names,
///   lock that address (password spraying).
/// - Keys are names as typed, whether or not an account exists, and the decision is taken before
///   the account is looked up: an unknown name is throttled exactly like a real one, after the
///   same work (none when locked; one verification otherwise).
/// - An attempt is counted as a failure before the password is checked (both counters, under one
///   lock), and refunded on success, so parallel guesses cannot outrun the count. While locked an
///   attempt is refused and not counted, so hammering does not extend the lock.
///
/// State is in memory, per server process, and bounded (``AccountLimits/maxThrottledKeys`` per
/// table; the stalest entries go first). Rejected alternative: the account store's persistent
/// per-account fields. They survive a restart, but keying them by address would put every address
/// a stranger uses into the accounts table, and a restart now only forgets at most 15 minutes of
/// locks, which the Argon2id cost of each guess makes cheap to accept.
public final class LoginThrottlePolicy: Sendable {
    /// What an attempt may do.
    public enum Admission: Sendable, Equatable {
        /// Counted as a failure; go on and check the password.
        case admitted
        /// Refused without checking anything; try again after this long.
        case locked(retryAfter: Duration)
    }

    struct Entry: Sendable, Equatable {
        /// Failures not yet forgotten.
        var failures: Int
        /// The point from which the next failure is forgotten.
        var decayFrom: Timestamp
        /// The end of the current lock, if any.
        var lockedUntil: Timestamp?
    }

    struct Ledger: Sendable {
        var entries: [String: Entry] = [:]
        let threshold: Int
        let capacity: Int

        /// The entry for `key` at `now`, with the failures that have decayed by then removed.
        func current(_ key: String, at now: Timestamp) -> Entry {
            guard var entry = entries[key] else { return Entry(failures: 0, decayFrom: now, lockedUntil: nil) }
            let decay = AccountLimits.loginFailureDecay
            let elapsed = now.millisecondsSinceEpoch - entry.decayFrom.millisecondsSinceEpoch
            let period = Int64(decay.components.seconds) * 1000 + Int64(decay.components.attoseconds / 1_000_000_000_000_000)
            if elapsed > 0, period > 0 {
                let steps = elapsed / period
                entry.failures = max(0, entry.failures - Int(clamping: steps))
                entry.decayFrom = entry.failures == 0 ? now : Timestamp(millisecondsSinceEpoch: entry.decayFrom.millisecondsSinceEpoch + steps * period)
            }
            return entry
        }

        func remainingLock(_ entry: Entry, at now: Timestamp) -> Duration? {
            guard let until = entry.lockedUntil, now < until else { return nil }
            return until.since(now)
        }

        mutating func countFailure(_ key: String, _ entry: Entry, at now: Timestamp) {
            var entry = entry
            if entry.failures == 0 { entry.decayFrom = now }
            entry.failures = entry.failures == .max ? .max : entry.failures + 1
            entry.lockedUntil = LoginThrottle.lockDuration(afterFailures: entry.failures, threshold: threshold).map(now.adding)
            store(key, entry, at: now)
        }

        mutating func refund(_ key: String, at now: Timestamp) {
            var entry = current(key, at: now)
            entry.failures = max(0, entry.failures - 1)
            store(key, entry, at: now)
        }

        mutating func clear(_ key: String) {
            entries[key] = nil
        }

        private mutating func store(_ key: String, _ entry: Entry, at now: Timestamp) {
            if entry.failures == 0 && remainingLock(entry, at: now) == nil {
                entries[key] = nil
                return
            }
            if entries[key] == nil, entries.count >= capacity { evict(at: now) }
            entries[key] = entry
        }

        /// Makes room: drops what has been forgotten, else the entry that changed longest ago.
        private mutating func evict(at now: Timestamp) {
            let before = entries.count
            entries = entries.filter { key, _ in
                let entry = current(key, at: now)
                return entry.failures > 0 || remainingLock(entry, at: now) != nil
            }
            if entries.count < before { return }
            if let stalest = entries.min(by: { $0.value.decayFrom < $1.value.decayFrom })?.key { entries[stalest] = nil }
        }
    }

    private struct State: Sendable {
        var pairs: Ledger
        var sources: Ledger
    }

    private let state: LockedValue<State>

    /// - Parameter capacity: most entries per table (pairs, addresses); tests make it small.
    public init(capacity: Int = AccountLimits.maxThrottledKeys) {
        state = LockedValue(State(
            pairs: Ledger(threshold: AccountLimits.failuresBeforeLockout, capacity: capacity),
            sources: Ledger(threshold: AccountLimits.sourceFailuresBeforeLockout, capacity: capacity)))
    }

    /// Decides an attempt for `account` (the name as given) from `source` at `now`: refused while
    /// the pair or the address is locked, otherwise counted as a failure in both and admitted.
    public func admit(account: String, source: String, at now: Timestamp) -> Admission {
        let pairKey = Self.pairKey(account: account, source: source)
        return state.withLock { state in
            let pair = state.pairs.current(pairKey, at: now)
            let address = state.sources.current(source, at: now)
            let waits = [state.pairs.remainingLock(pair, at: now), state.sources.remainingLock(address, at: now)].compactMap { $0 }
            if let wait = waits.max() { return .locked(retryAfter: wait) }
            state.pairs.countFailure(pairKey, pair, at: now)
            state.sources.countFailure(source, address, at: now)
            return .admitted
        }
    }

    /// After a correct password: the pair starts afresh and the address gets back the failure
    /// ``admit(account:source:at:)`` counted for this attempt (its other failures stay).
    public func recordSuccess(account: String, source: String, at now: Timestamp) {
        let pairKey = Self.pairKey(account: account, source: source)
        state.withLock { state in
            state.pairs.clear(pairKey)
            state.sources.refund(source, at: now)
        }
    }

    /// How many (account, address) pairs and addresses are tracked (for tests of the bound).
    public var trackedKeys: (pairs: Int, sources: Int) {
        state.withLock { ($0.pairs.entries.count, $0.sources.entries.count) }
    }

    /// A name never contains a NUL, so the pair key cannot be forged from another name and address.
    private static func pairKey(account: String, source: String) -> String { account + "\u{0}" + source }
}
