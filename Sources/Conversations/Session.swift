import Envelope
import Primitives

/// An end-to-end session with one peer: the Double Ratchet state plus what identifies the session.
public struct Session: Sendable, Equatable {
    /// Who the session is with.
    public let peer: Username
    /// The peer's identity key as bound into this session by X3DH.
    public let peerIdentityKey: Ed25519PublicKey
    /// Our identity key as bound into this session.
    public let localIdentityKey: Ed25519PublicKey
    /// The initiator's ephemeral key (EK_A): recognises further prekey messages of this session.
    public let baseKey: X25519PublicKey
    /// While set, outgoing messages carry this X3DH prelude so the peer can build the session even
    /// if earlier messages were lost. Cleared once the peer has answered within the session.
    public internal(set) var pendingPrelude: PrekeyPrelude?
    /// The ratchet.
    public internal(set) var ratchet: DoubleRatchet

    public init(peer: Username, peerIdentityKey: Ed25519PublicKey, localIdentityKey: Ed25519PublicKey, baseKey: X25519PublicKey, pendingPrelude: PrekeyPrelude?, ratchet: DoubleRatchet) {
        self.peer = peer
        self.peerIdentityKey = peerIdentityKey
        self.localIdentityKey = localIdentityKey
        self.baseKey = baseKey
        self.pendingPrelude = pendingPrelude
        self.ratchet = ratchet
    }
}
