import ClientCore
import Envelope
import Foundation
import MLKEMCrypto
import Prekeys
import Primitives
import ServerCore
import Testing
import WireProtocol

/// Issue 14 through the whole client and server (in memory): every new session is PQXDH, an
/// account without ML-KEM prekeys gets no session at all, and a client upgraded from before
/// PQXDH publishes its ML-KEM prekeys at its next login.
@Suite("Post-quantum session setup", .serialized, .shutsDownConnections, .timeLimit(.minutes(2)))
struct PostQuantumTests {
    /// What an account registered by a client that predates PQXDH looks like: its signed and
    /// one-time X25519 prekeys on the server, no ML-KEM prekey there or on its device.
    static func makePreQuantum(_ user: Username, device: Device, in world: TestWorld) throws {
        let keys = device.memory.keys
        let signed = try #require(try keys.signedPrekeyPairs().last)
        let oneTime = try (1...UInt32(PrekeyPolicy.oneTimePrekeyTarget)).compactMap { id in try keys.oneTimePrekeyPair(id: id)?.publicPrekey }
        try world.prekeys.removeAll(for: user)
        try world.prekeys.setSignedPrekey(signed.publicPrekey, for: user)
        try world.prekeys.addOneTimePrekeys(oneTime, for: user)
        for pair in try keys.kemPrekeyPairs() { try keys.removeKEMPrekeyPair(id: pair.id) }
        #expect(try world.prekeys.takeKEMPrekey(for: user, allowOneTime: true) == nil)
    }

    @Test("a registration publishes a last-resort and 100 one-time ML-KEM prekeys, and the first envelope is PQXDH")
    func registrationPublishesAndFirstEnvelopeIsPostQuantum() async throws {
        let world = try TestWorld()
        let bob = try world.device("bob")
        let bobConnection = try world.connect(bob)
        try await bobConnection.client.register(username: name("bob"), password: password())
        await bobConnection.disconnect()
        let status = try world.prekeys.kemPrekeyStatus(for: name("bob"), limit: 1000)
        #expect(status.oneTimeIDs.count == PrekeyPolicy.oneTimePrekeyTarget)
        #expect(status.lastResortID != nil)
        #expect(try bob.memory.keys.kemPrekeyPairs().count == PrekeyPolicy.oneTimePrekeyTarget + 1)

        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        _ = try await alice.client.send(text: "hello bob", to: name("bob"))
        let waiting = try world.mailbox.pending(for: name("bob"), after: nil, limit: 10)
        #expect(waiting.count == 1)
        let envelope = try CiphertextEnvelope(decoding: try #require(waiting.first).payload)
        let kem = try #require(envelope.prelude?.kem, "the first envelope carries no ML-KEM encapsulation")
        #expect(waiting.first?.payload[1] == 3)
        // A one-time ML-KEM prekey was handed out (and only once).
        #expect(try world.prekeys.kemPrekeyStatus(for: name("bob"), limit: 1000).oneTimeIDs.count == PrekeyPolicy.oneTimePrekeyTarget - 1)
        #expect(!(try world.prekeys.kemPrekeyStatus(for: name("bob"), limit: 1000).oneTimeIDs.contains(kem.prekeyID)))

        // Bob reads it; the one-time ML-KEM secret is then erased, the last-resort one kept.
        let bobAgain = try world.connect(bob)
        try await bobAgain.client.logIn(username: name("bob"), password: password())
        try await bobAgain.waitFor("hello bob") { $0.messageText == "hello bob" }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try bob.memory.keys.kemPrekeyPair(id: kem.prekeyID) == nil)
        #expect(try bob.memory.keys.kemPrekeyPairs().contains { $0.isLastResort })
        await bobAgain.disconnect()
        await alice.disconnect()
    }

    @Test("no downgrade: an account without ML-KEM prekeys gets no session; upgraded, it publishes them at login and the next send is PQXDH")
    func noDowngradeAndUpgradeAtLogin() async throws {
        let world = try TestWorld()
        let carol = try world.device("carol")
        let carolConnection = try world.connect(carol)
        try await carolConnection.client.register(username: name("carol"), password: password())
        await carolConnection.disconnect()
        try Self.makePreQuantum(name("carol"), device: carol, in: world)

        let dave = try world.connect(try world.device("dave"))
        try await dave.client.register(username: name("dave"), password: password())
        await #expect(throws: ClientError.noPostQuantumKeys(name("carol"))) {
            try await dave.client.send(text: "hi carol", to: name("carol"))
        }
        #expect(try world.mailbox.pending(for: name("carol"), after: nil, limit: 10).isEmpty)

        // Carol's client is upgraded: its next login publishes a last-resort key and one-time keys.
        let upgraded = try world.connect(carol)
        try await upgraded.client.logIn(username: name("carol"), password: password())
        await upgraded.disconnect()
        let status = try world.prekeys.kemPrekeyStatus(for: name("carol"), limit: 1000)
        #expect(status.lastResortID != nil)
        #expect(status.oneTimeIDs.count == PrekeyPolicy.oneTimePrekeyTarget)

        _ = try await dave.client.send(text: "hi carol", to: name("carol"))
        let waiting = try world.mailbox.pending(for: name("carol"), after: nil, limit: 10)
        #expect(try waiting.map { try CiphertextEnvelope(decoding: $0.payload).prelude?.kem != nil } == [true])
        let carolAgain = try world.connect(carol)
        try await carolAgain.client.logIn(username: name("carol"), password: password())
        try await carolAgain.waitFor("hi carol") { $0.messageText == "hi carol" }
        await carolAgain.disconnect()
        await dave.disconnect()
    }

    @Test("the server refuses ML-KEM prekeys not signed by the account's identity key")
    func badKEMSignatureIsRefused() async throws {
        let world = try TestWorld()
        let erin = try world.connect(try world.device("erin"))
        try await erin.client.register(username: name("erin"), password: password())
        let kem = SwiftCryptoMLKEM()
        let pair = try kem.generateMLKEMKeyPair(using: world.random)
        let stranger = try world.crypto.generateEd25519KeyPair(using: world.random)
        let forged = KEMPrekey(
            id: 99, publicKey: pair.publicKey,
            signature: try world.crypto.sign(KEMPrekey.signedMessage(id: 99, publicKey: pair.publicKey), with: stranger.secretKey))
        let answer = try await erin.wire.request(.publishKEMPrekeys(lastResort: forged, oneTime: []))
        guard case .error(let error) = answer else {
            Issue.record("accepted a forged ML-KEM prekey: \(answer)")
            return
        }
        #expect(error.code == .invalidPrekeys)
        await erin.disconnect()
    }
}
