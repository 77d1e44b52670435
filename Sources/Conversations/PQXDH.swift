import Envelope
import Prekeys
import Primitives

/// PQXDH (signal.org/docs/specifications/pqxdh) in the Parley v1 profile: X3DH's four
/// Diffie-Hellman values plus an ML-KEM-1024 encapsulation to the responder's signed ML-KEM
/// prekey, so that a recording of the first message stays secret against a future quantum
/// computer. The Double Ratchet that follows is classical.
///
/// SK = HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4] || SS,
/// info = "Parley PQXDH X25519 SHA-256 ML-KEM-1024 v1", 32 bytes); AD as in ``X3DH`` (both
/// identity keys and both usernames).
public struct PQXDH: Sendable {
    static let info = Array("Parley PQXDH X25519 SHA-256 ML-KEM-1024 v1".utf8)

    private let crypto: any CryptoProvider
    private let kem: any KEMProvider

    public init(crypto: any CryptoProvider, kem: any KEMProvider) {
        self.crypto = crypto
        self.kem = kem
    }

    /// What the initiator ends up with: the agreement, and the ML-KEM part of its prelude.
    public struct Initiation: Sendable {
        public let agreement: X3DH.Agreement
        public let kemPrelude: KEMPrelude
    }

    /// Alice's side: encapsulates to the bundle's ML-KEM prekey, then derives SK.
    public func initiate(
        localUsername: Username, localIdentity: Ed25519KeyPair, ephemeral: X25519KeyPair, peer: Username, bundle: VerifiedPrekeyBundle
    ) throws(CryptoError) -> Initiation {
        let encapsulation = try kem.mlkem1024Encapsulate(to: bundle.kemPrekey.prekey.publicKey)
        return try initiate(
            localUsername: localUsername, localIdentity: localIdentity, ephemeral: ephemeral, peer: peer, bundle: bundle,
            encapsulation: encapsulation)
    }

    /// ``initiate(localUsername:localIdentity:ephemeral:peer:bundle:)`` with a given encapsulation
    /// (for known-answer tests: the KEM's own API has no deterministic encapsulation).
    public func initiate(
        localUsername: Username, localIdentity: Ed25519KeyPair, ephemeral: X25519KeyPair, peer: Username, bundle: VerifiedPrekeyBundle,
        encapsulation: (ciphertext: MLKEMCiphertext, sharedSecret: SecretBytes)
    ) throws(CryptoError) -> Initiation {
        var parts = try X3DH(crypto: crypto).initiatorDH(
            localIdentity: localIdentity, ephemeral: ephemeral, peerIdentity: bundle.identityKey, signedPrekey: bundle.signedPrekey.publicKey,
            oneTimePrekey: bundle.oneTimePrekey?.publicKey)
        parts.append(encapsulation.sharedSecret)
        let agreement = try agreement(parts, initiator: (localIdentity.publicKey, localUsername), responder: (bundle.identityKey, peer))
        return Initiation(agreement: agreement, kemPrelude: KEMPrelude(prekeyID: bundle.kemPrekey.prekey.id, ciphertext: encapsulation.ciphertext))
    }

    /// Bob's side, with his secrets: the four DH values mirrored, and SS decapsulated from the
    /// prelude's ciphertext with the ML-KEM prekey it names.
    public func respond(
        localUsername: Username, localIdentity: Ed25519KeyPair, signedPrekey: X25519KeyPair, oneTimePrekey: X25519KeyPair?,
        kemPrekey: MLKEMSecretKey, kemCiphertext: MLKEMCiphertext,
        remoteUsername: Username, remoteIdentity: Ed25519PublicKey, remoteEphemeral: X25519PublicKey
    ) throws(CryptoError) -> X3DH.Agreement {
        var parts = try X3DH(crypto: crypto).responderDH(
            localIdentity: localIdentity, signedPrekey: signedPrekey, oneTimePrekey: oneTimePrekey, remoteIdentity: remoteIdentity,
            remoteEphemeral: remoteEphemeral)
        parts.append(try kem.mlkem1024Decapsulate(kemCiphertext, with: kemPrekey))
        return try agreement(parts, initiator: (remoteIdentity, remoteUsername), responder: (localIdentity.publicKey, localUsername))
    }

    private func agreement(
        _ secrets: [SecretBytes], initiator: (Ed25519PublicKey, Username), responder: (Ed25519PublicKey, Username)
    ) throws(CryptoError) -> X3DH.Agreement {
        let inputKeyMaterial = SecretBytes.concatenating([SecretBytes(copying: X3DH.filler)] + secrets)
        let sharedSecret = try crypto.hkdfSHA256(salt: X3DH.zeroSalt, inputKeyMaterial: inputKeyMaterial, info: Self.info, length: 32)
        return X3DH.Agreement(
            sharedSecret: sharedSecret,
            associatedData: X3DH.associatedData(initiator: (initiator.0, initiator.1), responder: (responder.0, responder.1)))
    }
}
