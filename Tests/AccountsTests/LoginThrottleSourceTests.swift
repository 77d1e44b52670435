import Accounts
import Primitives
import Testing

/// The throttle is keyed by (account, source address) and by source address, and forgets failures
/// over time (issue 10, finding 6): a stranger cannot lock the owner out, and a locked name cannot
/// be told from an unknown one.
@Suite("Login throttling by source address")
struct LoginThrottleSourceTests {
    private let right = "correct horse battery"
    private let stranger = "203.0.113.9"
    private let owner = "198.51.100.7"

    private func attempt(_ env: TestEnvironment, _ name: String = "alice", password: String = "wrong password", from source: String) -> AccountError? {
        do {
            _ = try env.service.logIn(username: name, password: secret(password), from: source)
            return nil
        } catch {
            return error
        }
    }

    @Test func aStrangerCannotLockTheOwnerOutFromAnotherAddress() throws {
        let env = try TestEnvironment()
        try env.register()
        // A stranger hammers alice's account, including through its locks.
        for _ in 1...30 {
            _ = attempt(env, from: stranger)
            env.clock.advance(by: .milliseconds(100))
        }
        #expect(attempt(env, password: right, from: stranger) != nil, "the stranger's address is locked")
        // Alice, from an address with no failures, gets in at once.
        #expect(attempt(env, password: right, from: owner) == nil)
    }

    @Test func failuresDecayOverTime() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...4 { #expect(attempt(env, from: owner) == .invalidCredentials) }
        // Quiet for as long as it takes to forget four failures.
        env.clock.advance(by: AccountLimits.loginFailureDecay * 4)
        for _ in 1...4 { #expect(attempt(env, from: owner) == .invalidCredentials) }
        // Eight failures in all, but never five within the decay window: no lock.
        #expect(attempt(env, password: right, from: owner) == nil)
    }

    @Test func aLockAtTheCapEndsAndIsForgotten() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...40 {
            _ = attempt(env, from: stranger)
            env.clock.advance(by: .seconds(1))
        }
        guard case .throttled = attempt(env, password: right, from: stranger) else {
            Issue.record("the stranger's address should be locked")
            return
        }
        // After a day of quiet the address starts afresh: four more failures do not lock it.
        env.clock.advance(by: .seconds(24 * 3600))
        for _ in 1...4 { #expect(attempt(env, from: stranger) == .invalidCredentials) }
        #expect(attempt(env, password: right, from: stranger) == nil)
    }

    @Test func lockedAndUnknownNamesAnswerAlikeAfterTheSameWork() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...5 {
            #expect(attempt(env, "alice", from: stranger) == .invalidCredentials)
            #expect(attempt(env, "nobody", from: owner) == .invalidCredentials)
        }
        let before = env.hasher.verifyCount
        let locked = attempt(env, "alice", from: stranger)
        let afterLocked = env.hasher.verifyCount
        let unknown = attempt(env, "nobody", from: owner)
        let afterUnknown = env.hasher.verifyCount
        #expect(locked == .throttled(retryAfter: AccountLimits.firstLockout))
        #expect(unknown == locked, "an unknown name answers exactly as a locked one")
        #expect(afterLocked - before == afterUnknown - afterLocked, "and costs the same hashing")
    }

    @Test func oneAddressIsLimitedAcrossAccounts() throws {
        let env = try TestEnvironment()
        try env.register()
        // Password spraying: one guess each at many names, from one address.
        for index in 0..<AccountLimits.sourceFailuresBeforeLockout {
            #expect(attempt(env, "user\(index)", from: stranger) == .invalidCredentials)
        }
        guard case .throttled = attempt(env, password: right, from: stranger) else {
            Issue.record("the spraying address should be locked for every name")
            return
        }
        #expect(attempt(env, password: right, from: owner) == nil)
    }

    @Test func theThrottleKeepsABoundedNumberOfEntries() {
        let policy = LoginThrottlePolicy(capacity: 8)
        let now = Timestamp(secondsSinceEpoch: 1_700_000_000)
        for index in 0..<100 { _ = policy.admit(account: "user\(index)", source: "10.0.0.\(index)", at: now) }
        #expect(policy.trackedKeys.pairs <= 8)
        #expect(policy.trackedKeys.sources <= 8)
        // The newest entries are the ones kept: the latest address is still counted.
        for _ in 1...4 { _ = policy.admit(account: "user99", source: "10.0.0.99", at: now) }
        #expect(policy.admit(account: "user99", source: "10.0.0.99", at: now) == .locked(retryAfter: .seconds(1)))
    }
}
