import Accounts
import Primitives
import Testing

@Suite("Password policy")
struct PasswordPolicyTests {
    let alice: Username

    init() throws { alice = try Username("alice") }

    private func rejection(_ password: String) -> PasswordRejection? {
        PasswordPolicy.rejection(for: secret(password), username: alice)
    }

    @Test func eightCharactersIsEnough() {
        #expect(rejection("12345678") == nil)
        #expect(rejection("correct horse battery staple") == nil)
    }

    @Test func fewerThanEightIsTooShort() {
        #expect(rejection("1234567") == .tooShort(minimum: 8, got: 7))
        #expect(rejection("") == .tooShort(minimum: 8, got: 0))
    }

    @Test func lengthCountsCharactersNotBytes() {
        // Seven two-byte characters: 14 bytes, still too short; eight of them are enough.
        #expect(rejection(String(repeating: "é", count: 7)) == .tooShort(minimum: 8, got: 7))
        #expect(rejection(String(repeating: "é", count: 8)) == nil)
    }

    @Test func atMost1024Bytes() {
        #expect(rejection(String(repeating: "x", count: 1024)) == nil)
        #expect(rejection(String(repeating: "x", count: 1025)) == .tooLong(maximumBytes: 1024, got: 1025))
    }

    @Test func theUsernameIsRefusedInAnyCase() throws {
        let long = try Username("alice.liddell")
        #expect(PasswordPolicy.rejection(for: secret("alice.liddell"), username: long) == .sameAsUsername)
        #expect(PasswordPolicy.rejection(for: secret("ALICE.Liddell"), username: long) == .sameAsUsername)
        // Containing the name, or the name plus more, is a different password.
        #expect(PasswordPolicy.rejection(for: secret("alice.liddell1"), username: long) == nil)
        #expect(PasswordPolicy.rejection(for: secret("alice.liddel"), username: long) == nil)
    }

    @Test func invalidUTF8IsRefused() {
        let bytes = SecretBytes(copying: [0x61, 0x62, 0x63, 0x64, 0xff, 0x65, 0x66, 0x67, 0x68])
        #expect(PasswordPolicy.rejection(for: bytes, username: alice) == .notUTF8)
    }

    @Test func registrationEnforcesThePolicy() throws {
        let env = try TestEnvironment()
        #expect(throws: AccountError.weakPassword(.tooShort(minimum: 8, got: 5))) {
            try env.register("alice", password: "short")
        }
        #expect(throws: AccountError.weakPassword(.sameAsUsername)) {
            try env.register("alice.liddell", password: "Alice.Liddell")
        }
        #expect(try env.record("alice") == nil)
    }
}
