import Accounts
import Primitives
import Testing

@Suite("Login throttling")
struct LoginThrottleTests {
    private let wrong = "wrong password"
    private let right = "correct horse battery"

    private func fail(_ env: TestEnvironment) {
        #expect(throws: AccountError.invalidCredentials) {
            try env.service.logIn(username: "alice", password: secret(wrong))
        }
    }

    @Test func theLockScheduleIsOneSecondDoublingToFifteenMinutes() {
        #expect((1...4).allSatisfy { LoginThrottle.lockDuration(afterFailures: $0) == nil })
        let seconds = (5...16).map { LoginThrottle.lockDuration(afterFailures: $0) }
        #expect(seconds == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900].map { Duration.seconds($0) })
        #expect(LoginThrottle.lockDuration(afterFailures: 1_000_000) == .seconds(900))
        #expect(LoginThrottle.lockDuration(afterFailures: .max) == .seconds(900))
    }

    @Test func aSaturatedCountStaysLockedAtTheCap() {
        let now = Timestamp(millisecondsSinceEpoch: 0)
        let saturated = LoginThrottle(failedLoginCount: .max, lockedUntil: nil).recordingFailure(at: now)
        #expect(saturated == LoginThrottle(failedLoginCount: .max, lockedUntil: now.adding(.seconds(900))))
    }

    private func loginsWithTheRightPassword(_ env: TestEnvironment) -> Bool {
        (try? env.service.logIn(username: "alice", password: secret(right))) != nil
    }

    @Test func fourFailuresDoNotLock() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...4 { fail(env) }
        _ = try env.service.logIn(username: "alice", password: secret(right))
    }

    @Test func theFifthFailureLocksForOneSecondThenEachDoubles() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...4 { fail(env) }
        var expected: Duration = .seconds(1)
        // Up to the 10th failure: the locks add up to 63 s, less than the time in which one
        // failure decays (the cap itself is pinned by the schedule test above).
        for _ in 5...10 {
            fail(env)
            // Locked: refused with the exact remaining wait, even with the right password.
            #expect(throws: AccountError.throttled(retryAfter: expected)) {
                try env.service.logIn(username: "alice", password: secret(right))
            }
            env.clock.advance(by: expected)
            expected = min(expected * 2, .seconds(900))
        }
        #expect(expected == .seconds(64))
    }

    @Test func aLockedAttemptIsNeitherCheckedNorCounted() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...5 { fail(env) }
        let verifications = env.hasher.verifyCount
        env.clock.advance(by: .milliseconds(400))
        for _ in 1...3 {
            #expect(throws: AccountError.throttled(retryAfter: .milliseconds(600))) {
                try env.service.logIn(username: "alice", password: secret(wrong))
            }
        }
        #expect(env.hasher.verifyCount == verifications)
        // When the lock ends, the next failure is the 6th: two seconds.
        env.clock.advance(by: .milliseconds(600))
        fail(env)
        #expect(throws: AccountError.throttled(retryAfter: .seconds(2))) {
            try env.service.logIn(username: "alice", password: secret(right))
        }
    }

    @Test func successResetsTheCount() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...6 { env.clock.advance(by: .seconds(2)); fail(env) }
        env.clock.advance(by: .seconds(2))
        _ = try env.service.logIn(username: "alice", password: secret(right))
        // The schedule starts again from the beginning.
        for _ in 1...4 { fail(env) }
        #expect(loginsWithTheRightPassword(env))
        for _ in 1...5 { fail(env) }
        #expect(throws: AccountError.throttled(retryAfter: .seconds(1))) {
            try env.service.logIn(username: "alice", password: secret(right))
        }
    }

    @Test func concurrentFailuresAreAllCounted() async throws {
        let env = try TestEnvironment()
        try env.register()
        // Five parallel wrong guesses race on the same counter: each must be counted, so the
        // fifth locks the account.
        await withTaskGroup(of: Void.self) { group in
            for _ in 1...5 {
                group.addTask { _ = try? env.service.logIn(username: "alice", password: secret("wrong password")) }
            }
        }
        #expect(throws: AccountError.throttled(retryAfter: .seconds(1))) {
            try env.service.logIn(username: "alice", password: secret(right))
        }
    }

    @Test func throttlingIsPerAccount() throws {
        let env = try TestEnvironment()
        try env.register("alice")
        try env.register("bob", password: "bobs password")
        for _ in 1...5 { fail(env) }
        _ = try env.service.logIn(username: "bob", password: secret("bobs password"))
    }
}
