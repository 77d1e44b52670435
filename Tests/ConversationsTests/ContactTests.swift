import Conversations
import Envelope
import InMemoryStore
import Prekeys
import Primitives
import Testing

@Suite("Contacts, requests, identity changes, safety numbers")
struct ContactTests {
    let env = TestEnvironment()

    @Test("first message from an unknown sender is a request; accepted goes to inbox; blocked is dropped")
    func routing() throws {
        let key = try env.crypto.generateEd25519KeyPair(using: env.random).publicKey
        let name = try Username("carol")
        #expect(ContactPolicy.routing(for: nil) == .request)
        #expect(ContactPolicy.routing(for: Contact(username: name, identityKey: key, status: .requested)) == .request)
        #expect(ContactPolicy.routing(for: Contact(username: name, identityKey: key, status: .accepted)) == .inbox)
        #expect(ContactPolicy.routing(for: Contact(username: name, identityKey: key, status: .blocked)) == .drop)
    }

    @Test("an identity change for a known contact is surfaced, unverifies them and holds sending")
    func identityChangeDetected() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        let store = InMemoryContactStore()
        try store.saveContact(Contact(username: bob.name, identityKey: bob.identity.publicKey, status: .accepted, verified: true))
        // Bob re-registers: a new identity key with the same name.
        let newBob = try env.makeUser("bob")
        let known = try store.contact(named: bob.name)
        let verdict = ContactPolicy.identityVerdict(presented: newBob.identity.publicKey, known: known)
        #expect(verdict == .changed(previous: bob.identity.publicKey))
        let updated = ContactPolicy.applying(verdict, presented: newBob.identity.publicKey, to: try #require(known))
        #expect(updated.identityChanged && !updated.verified && updated.identityKey == newBob.identity.publicKey)
        #expect(!ContactPolicy.maySend(to: updated))
        #expect(ContactPolicy.identityVerdict(presented: bob.identity.publicKey, known: Contact(username: bob.name, identityKey: bob.identity.publicKey, status: .accepted)) == .unchanged)
        #expect(ContactPolicy.identityVerdict(presented: alice.identity.publicKey, known: nil) == .firstUse)

        // End to end: Bob's new identity starts a session with Alice; the prelude shows the new key.
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(alice.fetchBundle())
        var session = try env.cipher.startSession(with: bundle, peer: alice.name, localUsername: newBob.name, localIdentity: newBob.identity)
        let envelope = try env.cipher.encrypt(text("it's me, new phone"), in: &session)
        let inbound = try env.cipher.decrypt(envelope, from: newBob.name, existing: nil, localUsername: alice.name, localIdentity: alice.identity, keys: alice.keys)
        #expect(ContactPolicy.identityVerdict(presented: inbound.session.peerIdentityKey, known: known) == .changed(previous: bob.identity.publicKey))
    }

    @Test("both sides compute the same safety number; it changes with the identity key")
    func safetyNumbers() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        let fromAlice = SafetyNumber(localUsername: alice.name, localIdentity: alice.identity.publicKey, remoteUsername: bob.name, remoteIdentity: bob.identity.publicKey, crypto: env.crypto)
        let fromBob = SafetyNumber(localUsername: bob.name, localIdentity: bob.identity.publicKey, remoteUsername: alice.name, remoteIdentity: alice.identity.publicKey, crypto: env.crypto)
        #expect(fromAlice == fromBob)
        #expect(fromAlice.digits.count == 60 && fromAlice.digits.allSatisfy(\.isNumber))
        #expect(fromAlice.grouped.count == 71)
        let newBob = try env.makeUser("bob")
        let changed = SafetyNumber(localUsername: alice.name, localIdentity: alice.identity.publicKey, remoteUsername: bob.name, remoteIdentity: newBob.identity.publicKey, crypto: env.crypto)
        #expect(changed != fromAlice)
    }

    @Test("history keeps a re-delivered message once and raises statuses monotonically")
    func historyDedupe() throws {
        let store = InMemoryHistoryStore()
        let peer = try Username("bob")
        let id = try MessageID(bytes: [UInt8](repeating: 3, count: 16))
        let entry = HistoryEntry(id: id, peer: peer, direction: .sent, body: .text("hi"), sentAt: Timestamp(millisecondsSinceEpoch: 1), receivedAt: Timestamp(millisecondsSinceEpoch: 1), status: .sent, isRequest: false)
        #expect(try store.append(entry))
        #expect(try !store.append(entry))
        try store.raiseStatus(of: [id], to: .read)
        try store.raiseStatus(of: [id], to: .delivered)
        #expect(try store.entries(with: peer, limit: 10).map(\.status) == [.read])
    }

    @Test("prekey policy: top up to 100 only below 25")
    func prekeyPolicy() {
        #expect(PrekeyPolicy.oneTimePrekeysToGenerate(serverCount: 25) == 0)
        #expect(PrekeyPolicy.oneTimePrekeysToGenerate(serverCount: 24) == 76)
        #expect(PrekeyPolicy.oneTimePrekeysToGenerate(serverCount: 0) == 100)
    }
}
