import Conversations
import Envelope
import MLKEMCrypto
import Prekeys
import Primitives

/// The session-state decoder (`SessionRecord(deserializing:)`, which reads `Session`s) and what
/// a hostile envelope can do to a real session. The first input byte picks the mode.
///
/// Properties:
/// - a record that decodes serialises to bytes that decode to an equal record, and serialising
///   that gives the same bytes again (a stored record survives every load and save unchanged);
/// - decrypting any envelope in a real record either fails, leaving the record unchanged and still
///   able to decrypt the genuine next message (a failure consumes no key), or succeeds only for a
///   message the peer really sent, with its real content.
public enum SessionStateProperty {
    public static let target = FuzzTarget(name: "session-state", check: check, seeds: seeds)

    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        var cursor = InputCursor(input)
        let selector = cursor.byte() % 2
        let payload = cursor.rest()
        if selector == 0 {
            try checkRecord(payload)
        } else {
            try checkDecryption(payload)
        }
    }

    private static func checkRecord(_ payload: [UInt8]) throws(PropertyViolation) {
        guard let record = try? SessionRecord(deserializing: SecretBytes(copying: payload)) else { return }
        let encoded = record.serialized()
        let again: SessionRecord
        do { again = try SessionRecord(deserializing: encoded) } catch {
            throw PropertyViolation("a serialised record does not decode: \(error)")
        }
        try require(again == record, "a serialised record decodes to a different record")
        try require(again.serialized() == encoded, "serialisation is not a fixed point")
        // A lone session (format 1) is the same check one level down.
        if let session = record.current, record.previous.isEmpty {
            try require((try? Session(deserializing: session.serialized())) == session, "a session does not round-trip")
        }
    }

    private static func checkDecryption(_ payload: [UInt8]) throws(PropertyViolation) {
        guard let envelope = try? CiphertextEnvelope(decoding: payload) else { return }
        let world = SessionWorld.shared
        let before = world.bobRecord.serialized()
        let cipher = world.cipher(seed: 99)
        let result = Result { () throws(DecryptionError) in
            try cipher.decrypt(envelope, from: world.alice, record: world.bobRecord, localUsername: world.bob, localIdentity: world.bobIdentity, prekeys: world.bobPrekeys)
        }
        switch result {
        case .success(let inbound):
            // The header and ciphertext are authenticated. A prelude is not re-read when its base key
            // names a session already held (the session's own identity key is what the client uses),
            // so only its presence is compared here.
            let genuine = world.genuine.first {
                $0.envelope.header == envelope.header && $0.envelope.ciphertext == envelope.ciphertext
                    && ($0.envelope.prelude == nil) == (envelope.prelude == nil)
            }
            try require(genuine != nil, "a forged envelope decrypted")
            try require(inbound.session.peerIdentityKey == world.aliceIdentityKey, "decrypted in a session with someone else")
            try require(inbound.content == genuine?.content, "a genuine envelope decrypted to other content")
        case .failure:
            try require(world.bobRecord.serialized() == before, "a failed decryption changed the record")
            for genuine in world.genuine {
                let inbound = try? cipher.decrypt(
                    genuine.envelope, from: world.alice, record: world.bobRecord, localUsername: world.bob, localIdentity: world.bobIdentity, prekeys: world.bobPrekeys)
                try require(inbound?.content == genuine.content, "after a failed decryption a genuine message no longer decrypts")
            }
        }
    }

    static func seeds() -> [[UInt8]] {
        let world = SessionWorld.shared
        return [
            mode(0, world.bobRecord.serialized().unsafeExportBytes()),
            mode(0, world.aliceRecord.serialized().unsafeExportBytes()),
            mode(0, world.aliceRecord.current!.serialized().unsafeExportBytes()),
            mode(0, SessionRecord(peer: world.alice).serialized().unsafeExportBytes()),
        ] + world.genuine.map { mode(1, $0.envelope.encoded) } + [mode(1, world.firstMessage.encoded)]
    }
}

/// Alice and Bob after a real X3DH start and one reply, built once per process from a seeded
/// random source: Bob's record, and messages from Alice that Bob has not read yet.
struct SessionWorld: Sendable {
    static let shared = SessionWorld()

    let alice: Username
    let bob: Username
    let aliceIdentityKey: Ed25519PublicKey
    let bobIdentity: Ed25519KeyPair
    let bobPrekeys: SessionCipher.ResponderPrekeys
    let bobRecord: SessionRecord
    let aliceRecord: SessionRecord
    /// Alice's prekey message that started the session (already read by Bob: a replay).
    let firstMessage: CiphertextEnvelope
    /// Unread by Bob: a prekey message sent before Alice heard back, then two plain messages,
    /// the second sent before the first arrives (out of order).
    let genuine: [(envelope: CiphertextEnvelope, content: MessageContent)]

    func cipher(seed: UInt64) -> SessionCipher { SessionCipher(crypto: fuzzCrypto, kem: SwiftCryptoMLKEM(), random: SeededRandomSource(seed: seed)) }

    private init() {
        let crypto = fuzzCrypto
        let random = SeededRandomSource(seed: 2026)
        let kem = SwiftCryptoMLKEM()
        let cipher = SessionCipher(crypto: crypto, kem: kem, random: random)
        func text(_ value: String, _ id: UInt8) -> MessageContent {
            fixture { MessageContent(id: try MessageID(bytes: Array(repeating: id, count: 16)), sentAt: Timestamp(millisecondsSinceEpoch: 1000), body: .text(value)) }
        }
        self = fixture {
            let alice = try Username("alice")
            let bob = try Username("bob")
            let aliceIdentity = try crypto.generateEd25519KeyPair(using: random)
            let bobIdentity = try crypto.generateEd25519KeyPair(using: random)
            let signedPair = try crypto.generateX25519KeyPair(using: random)
            let signature = try crypto.sign(SignedPrekey.signedMessage(id: 7, publicKey: signedPair.publicKey), with: bobIdentity.secretKey)
            let signed = SignedPrekeyPair(id: 7, keyPair: signedPair, signature: signature, createdAt: Timestamp(millisecondsSinceEpoch: 0))
            let oneTime = OneTimePrekeyPair(id: 100, keyPair: try crypto.generateX25519KeyPair(using: random))
            let kemPair = try kem.generateMLKEMKeyPair(using: random)
            let kemSignature = try crypto.sign(KEMPrekey.signedMessage(id: 9, publicKey: kemPair.publicKey), with: bobIdentity.secretKey)
            let kemPrekey = KEMPrekeyPair(id: 9, keyPair: kemPair, signature: kemSignature, isLastResort: true, createdAt: Timestamp(millisecondsSinceEpoch: 0))
            let bundle = try PrekeyBundleVerifier(crypto: crypto).verify(
                UnverifiedPrekeyBundle(
                    identityKey: bobIdentity.publicKey, signedPrekey: signed.publicPrekey, oneTimePrekey: oneTime.publicPrekey,
                    kemPrekey: BundledKEMPrekey(kemPrekey.publicPrekey, isLastResort: true)))

            var aliceSession = try cipher.startSession(with: bundle, peer: bob, localUsername: alice, localIdentity: aliceIdentity)
            let first = try cipher.encrypt(text("hi bob", 1), in: &aliceSession)
            let second = try cipher.encrypt(text("are you there?", 2), in: &aliceSession)
            let inbound = try cipher.decrypt(
                first, from: alice, record: nil, localUsername: bob, localIdentity: bobIdentity,
                prekeys: .init(signedPrekeys: [signed], oneTimePrekey: oneTime, kemPrekey: kemPrekey))
            var bobRecord = inbound.record
            var bobSession = inbound.session
            let reply = try cipher.encrypt(text("hello alice", 3), in: &bobSession)
            bobRecord.update(bobSession)
            let aliceInbound = try cipher.decrypt(
                reply, from: bob, record: SessionRecord(peer: bob, current: aliceSession), localUsername: alice, localIdentity: aliceIdentity,
                prekeys: nil)
            var aliceAfter = aliceInbound.session
            let third = try cipher.encrypt(text("good", 4), in: &aliceAfter)
            let fourth = try cipher.encrypt(text("very good", 5), in: &aliceAfter)
            var aliceRecord = aliceInbound.record
            aliceRecord.update(aliceAfter)
            return SessionWorld(
                alice: alice, bob: bob, aliceIdentityKey: aliceIdentity.publicKey, bobIdentity: bobIdentity, bobPrekeys: .init(signedPrekeys: [signed], oneTimePrekey: nil, kemPrekey: kemPrekey), bobRecord: bobRecord,
                aliceRecord: aliceRecord, firstMessage: first,
                genuine: [(second, text("are you there?", 2)), (fourth, text("very good", 5)), (third, text("good", 4))])
        }
    }

    private init(
        alice: Username, bob: Username, aliceIdentityKey: Ed25519PublicKey, bobIdentity: Ed25519KeyPair, bobPrekeys: SessionCipher.ResponderPrekeys,
        bobRecord: SessionRecord,
        aliceRecord: SessionRecord, firstMessage: CiphertextEnvelope, genuine: [(envelope: CiphertextEnvelope, content: MessageContent)]
    ) {
        self.alice = alice
        self.bob = bob
        self.aliceIdentityKey = aliceIdentityKey
        self.bobIdentity = bobIdentity
        self.bobPrekeys = bobPrekeys
        self.bobRecord = bobRecord
        self.aliceRecord = aliceRecord
        self.firstMessage = firstMessage
        self.genuine = genuine
    }
}
