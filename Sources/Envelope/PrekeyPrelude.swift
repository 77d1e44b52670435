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

    public init(identityKey: Ed25519PublicKey, ephemeralKey: X25519PublicKey, signedPrekeyID: UInt32, oneTimePrekeyID: UInt32?) {
        self.identityKey = identityKey
        self.ephemeralKey = ephemeralKey
        self.signedPrekeyID = signedPrekeyID
        self.oneTimePrekeyID = oneTimePrekeyID
    }
}
