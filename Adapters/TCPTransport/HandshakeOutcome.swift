import Primitives

/// What a completed handshake tells the transport about its peer.
struct HandshakeOutcome: Sendable {
    let remoteStaticKey: X25519PublicKey
    let handshakeHash: [UInt8]
}
