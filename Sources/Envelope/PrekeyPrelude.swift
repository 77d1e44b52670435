import Primitives

/// What the first messages of a session carry so that the recipient can run X3DH: the sender's
/// identity key, its ephemeral key, and which of the recipient's prekeys were used.
public struct PrekeyPrelude: Hashable, Sendable {
    /// The sender's Ed25519 identity public key (IK_A).
    public let identityKey: Ed25519PublicKey
    /// The sender's X25519 ephemeral public key (EK_A), also the session's base key.
    public let ephemeralKey: X25519PublicKey
    /// The id of the recipient's signed prekey used.
    public let signedPrekeyID: UInt32
    /// The id of the recipient's one-time prekey used, or nil when none was available.
    public let oneTimePrekeyID: UInt32?
    /// PQXDH's encapsulation to the recipient's ML-KEM prekey. Nil only in a prelude of a session
    /// set up with classical X3DH before PQXDH (which still decodes, so that such a session's
    /// messages keep reading; a new session is never started from one).
    public let kem: KEMPrelude?

    public init(
        identityKey: Ed25519PublicKey, ephemeralKey: X25519PublicKey, signedPrekeyID: UInt32, oneTimePrekeyID: UInt32?, kem: KEMPrelude? = nil
    ) {
        self.identityKey = identityKey
        self.ephemeralKey = ephemeralKey
        self.signedPrekeyID = signedPrekeyID
        self.oneTimePrekeyID = oneTimePrekeyID
        self.kem = kem
    }
}

/// The ML-KEM part of a PQXDH prelude: which of the recipient's ML-KEM prekeys was used (a
/// one-time one, or the last-resort one) and the ciphertext encapsulated to it.
public struct KEMPrelude: Hashable, Sendable {
    public let prekeyID: UInt32
    public let ciphertext: MLKEMCiphertext

    public init(prekeyID: UInt32, ciphertext: MLKEMCiphertext) {
        self.prekeyID = prekeyID
        self.ciphertext = ciphertext
    }
}
