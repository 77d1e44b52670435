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

    @Test func fourFailuresDoNotLock() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...4 { fail(env) }
        #expect(try env.record()?.lockedUntil == nil)
        _ = try env.service.logIn(username: "alice", password: secret(right))
    }

    @Test func theFifthFailureLocksForOneSecondThenEachDoubles() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...4 { fail(env) }
        var expected: Duration = .seconds(1)
        for failure in 5...16 {
            fail(env)
            let record = try #require(try env.record())
            #expect(record.failedLoginCount == failure)
            #expect(record.lockedUntil == env.clock.now().adding(expected))
            // Locked: refused with the exact remaining wait, even with the right password.
            #expect(throws: AccountError.throttled(retryAfter: expected)) {
                try env.service.logIn(username: "alice", password: secret(right))
            }
            env.clock.advance(by: expected)
            expected = min(expected * 2, .seconds(900))
        }
        #expect(expected == .seconds(900))
    }

    @Test func aLockedAttemptIsNeitherCheckedNorCounted() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...5 { fail(env) }
        let locked = try #require(try env.record())
        let verifications = env.hasher.verifyCount
        env.clock.advance(by: .milliseconds(400))
        for _ in 1...3 {
            #expect(throws: AccountError.throttled(retryAfter: .milliseconds(600))) {
                try env.service.logIn(username: "alice", password: secret(wrong))
            }
        }
        #expect(env.hasher.verifyCount == verifications)
        #expect(try env.record() == locked)
        // When the lock ends, the next failure is the 6th: two seconds.
        env.clock.advance(by: .milliseconds(600))
        fail(env)
        #expect(try env.record()?.failedLoginCount == 6)
        #expect(try env.record()?.lockedUntil == env.clock.now().adding(.seconds(2)))
    }

    @Test func successResetsTheCount() throws {
        let env = try TestEnvironment()
        try env.register()
        for _ in 1...6 { env.clock.advance(by: .seconds(2)); fail(env) }
        env.clock.advance(by: .seconds(2))
        _ = try env.service.logIn(username: "alice", password: secret(right))
        #expect(try env.record()?.loginThrottle == .clear)
        // The schedule starts again from the beginning.
        for _ in 1...4 { fail(env) }
        #expect(try env.record()?.lockedUntil == nil)
        fail(env)
        #expect(try env.record()?.lockedUntil == env.clock.now().adding(.seconds(1)))
    }

    @Test func concurrentFailuresAreAllCounted() async throws {
        let env = try TestEnvironment()
        try env.register()
        // Four parallel wrong guesses, below the lock threshold, so none is refused: each must be
        // counted even though they race on the same record.
        await withTaskGroup(of: Void.self) { group in
            for _ in 1...4 {
                group.addTask { _ = try? env.service.logIn(username: "alice", password: secret("wrong password")) }
            }
        }
        #expect(try env.record()?.failedLoginCount == 4)
    }

    @Test func throttlingIsPerAccount() throws {
        let env = try TestEnvironment()
        try env.register("alice")
        try env.register("bob", password: "bobs password")
        for _ in 1...5 { fail(env) }
        _ = try env.service.logIn(username: "bob", password: secret("bobs password"))
    }
}
