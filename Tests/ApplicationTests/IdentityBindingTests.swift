import ClientCore
import Conversations
import Prekeys
import Primitives
import Testing
import WireProtocol

/// Finding 2 of the security review (issue 10): identity keys bound to usernames, against the
/// unknown key-share of the X3DH specification (section 4.8). mallory registered an account with
/// alice's public identity key and relayed bob's message to alice, whose client showed it as
/// coming from mallory; safety numbers still "matched".
@Suite("Identity keys are bound to usernames", .shutsDownConnections)
struct IdentityBindingTests {
    /// What a registration publishes, made by hand so a test can choose each part.
    struct Registration {
        let identity: Ed25519KeyPair
        let signedPrekey: SignedPrekey
        let oneTimePrekeys: [OneTimePrekey]

        init(world: TestWorld) throws {
            identity = try world.crypto.generateEd25519KeyPair(using: world.random)
            let spk = try world.crypto.generateX25519KeyPair(using: world.random)
            signedPrekey = SignedPrekey(
                id: 1, publicKey: spk.publicKey,
                signature: try world.crypto.sign(SignedPrekey.signedMessage(id: 1, publicKey: spk.publicKey), with: identity.secretKey))
            oneTimePrekeys = [OneTimePrekey(id: 1, publicKey: try world.crypto.generateX25519KeyPair(using: world.random).publicKey)]
        }

        func request(_ username: Username, world: TestWorld, binding: Ed25519Signature? = nil) throws -> Request.Body {
            .register(
                username: username, password: password(), identityKey: identity.publicKey,
                identitySignature: try binding ?? IdentityBinding.sign(username: username, with: identity, crypto: world.crypto),
                signedPrekey: signedPrekey, oneTimePrekeys: oneTimePrekeys)
        }
    }

    @Test("mallory cannot register alice's public identity key: without alice's signature over the name, and even the key's holder cannot register it twice")
    func anotherAccountsIdentityKeyIsRefused() async throws {
        let world = try TestWorld()
        let keys = try Registration(world: world)
        let alice = try world.connect(try world.device("alice"))
        #expect(try await alice.wire.request(keys.request(name("alice"), world: world)) == .loggedIn(pending: 0))

        // mallory copies everything alice published (her identity key, its binding for "alice",
        // her signed prekey) under her own name.
        let published = try #require(try world.accounts.find(name("alice")))
        let copiedBinding = try #require(published.identitySignature)
        let mallory = try world.connect(try world.device("mallory"))
        let copy = try keys.request(name("mallory"), world: world, binding: copiedBinding)
        #expect(try await errorCode(mallory.wire.request(copy)) == .invalidIdentityBinding)
        #expect(try world.accounts.find(name("mallory")) == nil)

        // The key's holder signing a second name is refused too: one key, one account.
        let second = try world.connect(try world.device("alice2"))
        #expect(try await errorCode(second.wire.request(keys.request(name("alice.two"), world: world))) == .identityKeyTaken)
        #expect(try world.accounts.find(name("alice.two")) == nil)
        #expect(try world.accounts.username(withIdentityKey: keys.identity.publicKey) == name("alice"))
        for connection in [alice, mallory, second] { await connection.disconnect() }
    }

    @Test("bob's first message relayed by mallory under her own name is refused, never shown as hers")
    func relayedFirstMessageIsRefused() async throws {
        let world = try TestWorld()
        let (aliceName, bobName, malloryName) = (name("alice"), name("bob"), name("mallory"))
        let aliceDevice = try world.device("alice")
        let alice = try world.connect(aliceDevice)
        try await alice.client.register(username: aliceName, password: password())
        await alice.disconnect()
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: bobName, password: password())
        let mallory = try world.connect(try world.device("mallory"))
        try await mallory.client.register(username: malloryName, password: password())

        // bob writes to alice while she is offline. Whoever can see his envelope (mallory through
        // an account holding alice's keys, or the server itself) withholds it and sends the same
        // bytes to alice as mallory's.
        try await bob.client.send(text: "meet me at noon", to: aliceName)
        let original = try #require(try world.mailbox.pending(for: aliceName, after: nil, limit: 10).first)
        #expect(original.sender == bobName)
        _ = try world.mailbox.acknowledge([original.id], for: aliceName)
        let aliceKey = try #require(try world.accounts.find(aliceName)).identityKey
        let relayed = try await mallory.wire.request(.send(recipient: aliceName, recipientIdentity: aliceKey, envelope: original.payload))
        guard case .accepted = relayed else {
            Issue.record("the relay was not accepted: \(relayed)")
            return
        }

        let aliceAgain = try world.connect(aliceDevice)
        #expect(try await aliceAgain.client.logIn(username: aliceName, password: password()) == 1)
        try await aliceAgain.waitFor("the mismatch warning") { $0 == .identityMismatch(from: malloryName) }
        // Refused and acknowledged: nothing shown, stored or answered under mallory's name.
        try await waitUntil { (try? world.mailbox.usage(for: aliceName).count) == 0 }
        #expect(!aliceAgain.recorder.events.contains { $0.messageText == "meet me at noon" })
        #expect(try await aliceAgain.client.history(with: malloryName, limit: 10).isEmpty)
        #expect(try aliceDevice.stores.contacts.contact(named: malloryName) == nil)
        #expect(try aliceDevice.stores.sessions.record(with: malloryName) == nil)
        #expect(try world.mailbox.usage(for: malloryName).count == 0, "no retry request went to mallory")
        for connection in [aliceAgain, bob, mallory] { await connection.disconnect() }
    }

    @Test("a genuine first contact is checked with the identity request, which spends no one-time prekey")
    func firstContactLookupConsumesNoPrekey() async throws {
        let world = try TestWorld()
        let (aliceName, bobName) = (name("alice"), name("bob"))
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: aliceName, password: password())
        let bob = try world.connect(try world.device("bob"))
        try await bob.client.register(username: bobName, password: password())
        let bobPrekeys = try world.prekeys.oneTimePrekeyCount(for: bobName)

        try await bob.client.send(text: "hello alice", to: aliceName)
        try await alice.waitFor("bob's message") { $0.messageText == "hello alice" }
        #expect(try world.prekeys.oneTimePrekeyCount(for: bobName) == bobPrekeys)
        #expect(try await alice.client.history(with: bobName, limit: 10).map(\.body) == [.text("hello alice")])
        // The identity request answers with the key and its binding, for any logged-in user.
        let answer = try await alice.wire.request(.identity(username: bobName))
        guard case .identity(let published) = answer, let signature = published.signature else {
            Issue.record("unexpected answer \(answer)")
            return
        }
        #expect(IdentityBinding.isValid(signature, identityKey: published.identityKey, username: bobName, crypto: world.crypto))
        #expect(try errorCode(await alice.wire.request(.identity(username: name("nobody")))) == .unknownUser)
        await alice.disconnect()
        await bob.disconnect()
    }
}

func errorCode(_ body: Response.Body) -> WireError.Code? {
    if case .error(let error) = body { return error.code }
    return nil
}
