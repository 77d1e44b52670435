import Conversations
import Envelope
import InMemoryStore
import Prekeys
import Primitives
import Testing

/// Session setup is PQXDH and nothing else (issue 14): the first message carries an ML-KEM
/// encapsulation; one-time ML-KEM prekeys are used once, the last-resort one is kept; no bundle
/// or prelude without ML-KEM sets up a session, in either direction; sessions made before PQXDH
/// keep working.
@Suite("PQXDH sessions")
struct PQXDHSessionTests {
    let env = TestEnvironment(seed: 14)

    @Test("every new session's first envelope is a PQXDH prekey message naming a one-time ML-KEM prekey, erased after use")
    func firstMessageIsPostQuantum() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob", oneTimeKEMPrekeys: 1)
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        #expect(!bundle.kemPrekey.isLastResort)
        var session = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let first = try env.cipher.encrypt(text("hello"), in: &session)
        let encoded = first.encoded
        #expect(encoded[0] == 1 && encoded[1] == 3, "version 1, kind 3 (PQXDH prelude)")
        let kem = try #require(first.prelude?.kem)
        #expect(kem.prekeyID == bundle.kemPrekey.prekey.id)
        #expect(try CiphertextEnvelope(decoding: encoded) == first)
        let inbound = try env.cipher.decrypt(first, from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(inbound.content.body == .text("hello"))
        #expect(inbound.kemPrekeyToErase == kem.prekeyID)
    }

    @Test("with no one-time ML-KEM prekey left the last-resort one is used, and kept")
    func lastResortIsKept() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob", oneTimeKEMPrekeys: 0)
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        #expect(bundle.kemPrekey.isLastResort)
        var session = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let first = try env.cipher.encrypt(text("hello"), in: &session)
        let inbound = try env.cipher.decrypt(first, from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(inbound.content.body == .text("hello"))
        #expect(inbound.kemPrekeyToErase == nil)
    }

    @Test("a bundle without an ML-KEM prekey does not verify (no downgrade), nor does one whose ML-KEM signature is bad")
    func bundleWithoutKEMIsRefused() throws {
        let bob = try env.makeUser("bob")
        let full = bob.fetchBundle()
        let stripped = UnverifiedPrekeyBundle(
            identityKey: full.identityKey, identitySignature: full.identitySignature, signedPrekey: full.signedPrekey,
            oneTimePrekey: full.oneTimePrekey, kemPrekey: nil)
        #expect(throws: PrekeyError.missingKEMPrekey) { try PrekeyBundleVerifier(crypto: env.crypto).verify(stripped) }
        let kem = try #require(full.kemPrekey)
        var badSignature = kem.prekey.signature.bytes
        badSignature[0] ^= 1
        let forged = UnverifiedPrekeyBundle(
            identityKey: full.identityKey, signedPrekey: full.signedPrekey, oneTimePrekey: full.oneTimePrekey,
            kemPrekey: BundledKEMPrekey(
                KEMPrekey(id: kem.prekey.id, publicKey: kem.prekey.publicKey, signature: try Ed25519Signature(bytes: badSignature)),
                isLastResort: kem.isLastResort))
        #expect(throws: PrekeyError.invalidKEMSignature(kemPrekeyID: kem.prekey.id)) { try PrekeyBundleVerifier(crypto: env.crypto).verify(forged) }
    }

    @Test("a classical X3DH prelude never starts a session on the responder; nothing changes")
    func classicalPreludeIsRefused() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        var session = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let first = try env.cipher.encrypt(text("hello"), in: &session)
        let prelude = try #require(first.prelude)
        // What an old client (or a server rewriting the message) would send: the same X3DH
        // fields without the ML-KEM part.
        let classical = CiphertextEnvelope(
            prelude: PrekeyPrelude(
                identityKey: prelude.identityKey, ephemeralKey: prelude.ephemeralKey, signedPrekeyID: prelude.signedPrekeyID,
                oneTimePrekeyID: prelude.oneTimePrekeyID),
            header: first.header, ciphertext: first.ciphertext)
        #expect(classical.encoded[1] == 2)
        #expect(throws: DecryptionError.classicalSessionRefused) {
            try env.cipher.decrypt(classical, from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
        #expect(try bob.keys.oneTimePrekeyPair(id: try #require(prelude.oneTimePrekeyID)) != nil)
    }

    @Test("a prelude naming an ML-KEM prekey this device does not hold is refused")
    func unknownKEMPrekey() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        var session = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let first = try env.cipher.encrypt(text("hello"), in: &session)
        let kemID = try #require(first.prelude?.kem?.prekeyID)
        try bob.keys.removeKEMPrekeyPair(id: kemID)
        #expect(throws: DecryptionError.unknownKEMPrekey(id: kemID)) {
            try env.cipher.decrypt(first, from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
    }

    @Test("a pending PQXDH prelude survives the session's serialisation (sessions made before PQXDH read as before: ClientMigrationTests)")
    func preludeSurvivesSerialisation() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        let session = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let restored = try Session(deserializing: session.serialized())
        #expect(restored.pendingPrelude == session.pendingPrelude)
        #expect(restored.pendingPrelude?.kem != nil)
    }
}
