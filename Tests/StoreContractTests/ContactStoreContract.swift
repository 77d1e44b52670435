import Conversations
import Primitives
import Testing

/// Makes a fresh, empty ``ContactStore``.
public typealias ContactStoreFactory = @Sendable () throws -> any ContactStore

/// The behaviour every ``ContactStore`` adapter must have.
public enum ContactStoreContract {
    public static let checks: [ContractCheck<ContactStoreFactory>] = [
        ContractCheck("an unknown contact is nil, and the list is empty") { make in
            let store = try make()
            #expect(try store.contact(named: user("bob")) == nil)
            #expect(try store.allContacts() == [])
        },
        ContractCheck("a saved contact comes back with every field") { make in
            let store = try make()
            let contact = Contact(username: try user("bob"), identityKey: try identityKey(7), status: .requested, verified: true, identityChanged: true)
            try store.saveContact(contact)
            #expect(try store.contact(named: user("bob")) == contact)
        },
        ContractCheck("saving the same name again updates the contact in place") { make in
            let store = try make()
            let bob = try user("bob")
            try store.saveContact(Contact(username: bob, identityKey: try identityKey(1), status: .requested))
            var updated = Contact(username: bob, identityKey: try identityKey(2), status: .accepted, verified: false, identityChanged: true)
            try store.saveContact(updated)
            #expect(try store.contact(named: bob) == updated)
            updated.status = .blocked
            updated.verified = true
            updated.identityChanged = false
            try store.saveContact(updated)
            #expect(try store.allContacts() == [updated])
        },
        ContractCheck("all contacts are listed sorted by username") { make in
            let store = try make()
            for (index, name) in ["carol", "alice", "zed", "bob"].enumerated() {
                try store.saveContact(Contact(username: try user(name), identityKey: try identityKey(UInt8(index)), status: .accepted))
            }
            #expect(try store.allContacts().map(\.username.value) == ["alice", "bob", "carol", "zed"])
        },
        ContractCheck("removing a contact removes that one only; an unknown name is a no-op") { make in
            let store = try make()
            let alice = Contact(username: try user("alice"), identityKey: try identityKey(1), status: .accepted)
            let bob = Contact(username: try user("bob"), identityKey: try identityKey(2), status: .blocked)
            try store.saveContact(alice)
            try store.saveContact(bob)
            try store.removeContact(named: alice.username)
            try store.removeContact(named: user("nobody"))
            #expect(try store.contact(named: alice.username) == nil)
            #expect(try store.allContacts() == [bob])
        },
    ]
}
