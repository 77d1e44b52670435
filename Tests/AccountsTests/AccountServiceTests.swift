import Accounts
import Primitives
import Testing

@Suite("Registration, login and deletion")
struct AccountServiceTests {
    @Test func registrationStoresAHashNotThePassword() throws {
        let env = try TestEnvironment()
        let record = try env.register("alice", password: "correct horse battery")
        #expect(record.passwordHash.hasPrefix("$argon2id$"))
        #expect(!record.passwordHash.contains("correct horse battery"))
        #expect(record.identityKey == identityKey)
        #expect(record.createdAt == env.clock.now())
        #expect(record.loginThrottle == .clear)
        #expect(try env.record() == record)
    }

    @Test func aTakenNameIsRefusedWhateverItsCase() throws {
        let env = try TestEnvironment()
        try env.register("alice")
        #expect(throws: AccountError.usernameTaken(try Username("alice"))) {
            try env.register("ALICE", password: "another password")
        }
    }

    @Test func anIdentityKeyAnotherAccountHasIsRefused() throws {
        let env = try TestEnvironment()
        try env.register("alice")
        let hashesBefore = env.hasher.hashCount
        #expect(throws: AccountError.identityKeyTaken) {
            try env.register("mallory", password: "another password", identity: identityKey)
        }
        // Refused before any Argon2id run, and nothing stored.
        #expect(env.hasher.hashCount == hashesBefore)
        #expect(try env.record("mallory") == nil)
        #expect(try env.store.username(withIdentityKey: identityKey) == (try Username("alice")))
    }

    @Test func theRightPasswordLogsIn() throws {
        let env = try TestEnvironment()
        try env.register("alice", password: "correct horse battery")
        let account = try env.service.logIn(username: "Alice", password: secret("correct horse battery"))
        #expect(account.username == (try Username("alice")))
        #expect(account.identityKey == identityKey)
        #expect(try env.record()?.loginThrottle == .clear)
    }

    @Test func aWrongPasswordIsInvalidCredentialsAndCounted() throws {
        let env = try TestEnvironment()
        try env.register()
        #expect(throws: AccountError.invalidCredentials) {
            try env.service.logIn(username: "alice", password: secret("wrong password"))
        }
        // Counted: four more lock the name for this source.
        for _ in 1...4 { _ = try? env.service.logIn(username: "alice", password: secret("wrong password")) }
        #expect(throws: AccountError.throttled(retryAfter: .seconds(1))) {
            try env.service.logIn(username: "alice", password: secret("correct horse battery"))
        }
    }

    @Test func anUnknownOrMalformedNameLooksLikeAWrongPassword() throws {
        let env = try TestEnvironment()
        try env.register()
        let before = env.hasher.verifyCount
        #expect(throws: AccountError.invalidCredentials) {
            try env.service.logIn(username: "bob", password: secret("whatever password"))
        }
        #expect(throws: AccountError.invalidCredentials) {
            try env.service.logIn(username: "!!", password: secret("whatever password"))
        }
        // Each still paid for one Argon2id verification (against the dummy hash).
        #expect(env.hasher.verifyCount == before + 2)
    }

    @Test func anOverlongPasswordFailsWithoutBeingHashed() throws {
        let env = try TestEnvironment()
        let record = try env.register()
        let verificationsBefore = env.hasher.verifyCalls.count
        let hashingsBefore = env.hasher.hashedLengths.count
        #expect(throws: AccountError.invalidCredentials) {
            try env.service.logIn(username: "alice", password: secret(String(repeating: "x", count: 1025)))
        }
        // The 1025 bytes never reached the hasher: the one verification it paid for (so the timing
        // matches a wrong password) was of an empty password against the dummy hash, not the
        // account's, and nothing was hashed.
        let calls = Array(env.hasher.verifyCalls.dropFirst(verificationsBefore))
        #expect(calls.count == 1)
        #expect(calls.allSatisfy { $0.passwordLength == 0 && $0.hash != record.passwordHash }, "\(calls)")
        #expect(env.hasher.hashedLengths.count == hashingsBefore)
        for _ in 1...4 { _ = try? env.service.logIn(username: "alice", password: secret("wrong password")) }
        #expect(throws: AccountError.throttled(retryAfter: .seconds(1)), "the over-long attempt was counted") {
            try env.service.logIn(username: "alice", password: secret("correct horse battery"))
        }
    }

    @Test func aHashMadeWithAnOldCostIsUpgradedAtLogin() throws {
        let old = try TestEnvironment(cost: .minimum)
        let record = try old.register()
        let stronger = Argon2Cost(operations: 2, memoryBytes: 16 * 1024)
        let new = CountingHasher(inner: Argon2idPasswordHasher(crypto: crypto, cost: stronger))
        let service = try AccountService(store: old.store, hasher: new, clock: old.clock)
        _ = try service.logIn(username: "alice", password: secret("correct horse battery"))
        let upgraded = try #require(try old.record())
        #expect(upgraded.passwordHash != record.passwordHash)
        #expect(!new.needsRehash(upgraded.passwordHash))
        // And the upgraded hash still accepts the password.
        _ = try service.logIn(username: "alice", password: secret("correct horse battery"))
    }

    @Test func deletionRemovesTheRecordAndFreesTheName() throws {
        let env = try TestEnvironment()
        try env.register()
        let account = try env.service.logIn(username: "alice", password: secret("correct horse battery"))
        try env.service.delete(account)
        #expect(try env.record() == nil)
        #expect(throws: AccountError.invalidCredentials) {
            try env.service.logIn(username: "alice", password: secret("correct horse battery"))
        }
        // Deleting again is not an error, and the name can be registered afresh.
        try env.service.delete(account)
        try env.register("alice", password: "a new password")
    }
}
