import Conversations
import Envelope
import Prekeys
import Primitives
import MLKEMCrypto
import SodiumCrypto

/// Real key material and real sessions for the client-side contracts: the stores must round-trip
/// what the domain actually produces (secret keys, ratchet state with skipped keys and a pending
/// prelude), not hand-made bytes. Deterministic: libsodium for the arithmetic, a seeded source for
/// the randomness.
public struct ClientFixture: Sendable {
    public let crypto: any CryptoProvider
    public let kem: any KEMProvider
    public let random: SeededRandomSource

    /// - Throws: `CryptoError.libraryUnavailable` if libsodium cannot start.
    public init(seed: UInt64 = 1) throws {
        crypto = try SodiumCryptoProvider()
        kem = SwiftCryptoMLKEM()
        random = SeededRandomSource(seed: seed)
    }

    /// A fresh identity key pair.
    public func identity() throws -> Ed25519KeyPair {
        try crypto.generateEd25519KeyPair(using: random)
    }

    /// A fresh signed prekey, really signed by `identity`.
    public func signedPrekey(id: UInt32, signedBy identity: Ed25519KeyPair, createdAt: Int64 = 1_700_000_000_000) throws -> SignedPrekeyPair {
        let keyPair = try crypto.generateX25519KeyPair(using: random)
        let signature = try crypto.sign(SignedPrekey.signedMessage(id: id, publicKey: keyPair.publicKey), with: identity.secretKey)
        return SignedPrekeyPair(id: id, keyPair: keyPair, signature: signature, createdAt: Timestamp(millisecondsSinceEpoch: createdAt))
    }

    /// A fresh one-time prekey.
    public func oneTimePrekey(id: UInt32) throws -> OneTimePrekeyPair {
        OneTimePrekeyPair(id: id, keyPair: try crypto.generateX25519KeyPair(using: random))
    }

    /// A fresh ML-KEM prekey, really signed by `identity`.
    public func kemPrekey(id: UInt32, lastResort: Bool = false, signedBy identity: Ed25519KeyPair, createdAt: Int64 = 1_700_000_000_000) throws -> KEMPrekeyPair {
        let keyPair = try kem.generateMLKEMKeyPair(using: random)
        let signature = try crypto.sign(KEMPrekey.signedMessage(id: id, publicKey: keyPair.publicKey), with: identity.secretKey)
        return KEMPrekeyPair(
            id: id, keyPair: keyPair, signature: signature, isLastResort: lastResort, createdAt: Timestamp(millisecondsSinceEpoch: createdAt))
    }

    /// Two ends of one conversation, as a client stores them.
    public struct Conversation: Sendable {
        /// Alice's session with Bob: she has sent three messages and heard nothing back, so it
        /// still carries her X3DH prelude.
        public let initiator: Session
        /// Bob's session with Alice after receiving only her third message: it holds two skipped
        /// message keys.
        public let responder: Session
        /// Alice's first two messages, which Bob's session can still decrypt.
        public let delayed: [CiphertextEnvelope]
        /// Bob's identity, for decrypting `delayed`.
        public let responderIdentity: Ed25519KeyPair
        /// Bob's username.
        public let responderName: Username
    }

    /// Runs X3DH and the Double Ratchet between `initiator` and `responder` (see ``Conversation``).
    public func conversation(initiator: Username, responder: Username) throws -> Conversation {
        let aliceIdentity = try identity()
        let bobIdentity = try identity()
        let signed = try signedPrekey(id: 1, signedBy: bobIdentity)
        let oneTime = try oneTimePrekey(id: 100)
        let kemPrekey = try kemPrekey(id: 7, signedBy: bobIdentity)
        let bobKeys = SessionCipher.ResponderPrekeys(signedPrekeys: [signed], oneTimePrekey: oneTime, kemPrekey: kemPrekey)
        let bundle = try PrekeyBundleVerifier(crypto: crypto).verify(UnverifiedPrekeyBundle(
            identityKey: bobIdentity.publicKey, signedPrekey: signed.publicPrekey, oneTimePrekey: oneTime.publicPrekey,
            kemPrekey: BundledKEMPrekey(kemPrekey.publicPrekey, isLastResort: false)))
        let cipher = SessionCipher(crypto: crypto, kem: kem, random: random)
        var aliceSession = try cipher.startSession(with: bundle, peer: responder, localUsername: initiator, localIdentity: aliceIdentity)
        let envelopes = try (0..<3).map { index in
            try cipher.encrypt(text("message \(index)", at: Int64(index)), in: &aliceSession)
        }
        let inbound = try cipher.decrypt(
            envelopes[2], from: initiator, record: nil, localUsername: responder, localIdentity: bobIdentity, prekeys: bobKeys)
        return Conversation(
            initiator: aliceSession, responder: inbound.session, delayed: Array(envelopes[0..<2]), responderIdentity: bobIdentity,
            responderName: responder)
    }

    /// Decrypts `envelope` within `record` (one of whose sessions must read it: no prekeys are given).
    public func decrypt(
        _ envelope: CiphertextEnvelope, in record: SessionRecord, from sender: Username, to recipient: Username, identity: Ed25519KeyPair
    ) throws -> MessageContent {
        try SessionCipher(crypto: crypto, kem: kem, random: random)
            .decrypt(envelope, from: sender, record: record, localUsername: recipient, localIdentity: identity, prekeys: nil).content
    }

    private func text(_ body: String, at milliseconds: Int64) -> MessageContent {
        MessageContent(id: MessageID.random(using: random), sentAt: Timestamp(millisecondsSinceEpoch: milliseconds), body: .text(body))
    }
}

/// A deterministic random source (SplitMix64). Tests only: it is predictable by design.
public final class SeededRandomSource: RandomSource {
    private let state: LockedValue<UInt64>

    public init(seed: UInt64) { state = LockedValue(seed) }

    public func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        state.withLock { state in
            for index in buffer.indices {
                state &+= 0x9e37_79b9_7f4a_7c15
                var z = state
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                buffer[index] = UInt8(truncatingIfNeeded: z ^ (z >> 31))
            }
        }
    }
}
