import Accounts
import Primitives
import Testing

@Suite("Username rules")
struct UsernameRulesTests {
    @Test(arguments: ["abc", "alice", "a.b-c_d", "z0123456789012345678901234567890"])
    func validNamesAreAccepted(_ name: String) throws {
        #expect(try Username(name).value == name)
    }

    @Test func upperCaseIsNormalisedToLowerCase() throws {
        #expect(try Username("AliCe").value == "alice")
        #expect(try Username("ALICE") == Username("alice"))
    }

    @Test func lengthIsThreeToThirtyTwo() {
        #expect(throws: UsernameError.invalidLength(2)) { try Username("ab") }
        #expect(throws: UsernameError.invalidLength(0)) { try Username("") }
        #expect(throws: UsernameError.invalidLength(33)) { try Username("a" + String(repeating: "b", count: 32)) }
    }

    @Test(arguments: ["1abc", "_abc", ".abc", "-abc"])
    func mustStartWithALetter(_ name: String) {
        #expect(throws: UsernameError.mustStartWithLetter) { try Username(name) }
    }

    @Test(arguments: [("ab c", " "), ("ab@c", "@"), ("abé", "é"), ("ab/c", "/")])
    func onlyTheAllowedCharacters(_ name: String, _ bad: String) {
        #expect(throws: UsernameError.invalidCharacter(bad)) { try Username(name) }
    }

    @Test func registrationReportsTheUsernameRule() throws {
        let env = try TestEnvironment()
        #expect(throws: AccountError.invalidUsername(.mustStartWithLetter)) {
            try env.register("9lives")
        }
    }

    @Test func registrationNormalisesTheName() throws {
        let env = try TestEnvironment()
        let record = try env.register("Alice")
        #expect(record.username.value == "alice")
        #expect(try env.record("alice") == record)
    }
}
