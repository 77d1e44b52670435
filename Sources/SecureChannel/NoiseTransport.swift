import Primitives

/// The result of a completed handshake (spec section 5.3, `Split`): one ``CipherState`` for each
/// direction, the authenticated identity of the peer and the handshake hash.
///
/// Transport messages are ordered: each side encrypts with its sending cipher and decrypts with its
/// receiving cipher, and the nonces advance in lockstep. A message that fails to decrypt must end
/// the session (the stream has lost sync or been tampered with); Parley's transport closes the
/// connection.
public struct NoiseTransport: Sendable {
    private var sender: CipherState
    private var receiver: CipherState
    /// The peer's static X25519 public key, authenticated by the handshake: the server's identity
    /// as the client sees it, the client's static key as the server sees it.
    public let remoteStaticKey: X25519PublicKey
    /// The final handshake hash `h`, equal on both sides (64 bytes); usable for channel binding.
    public let handshakeHash: [UInt8]

    init(sender: CipherState, receiver: CipherState, remoteStaticKey: X25519PublicKey, handshakeHash: [UInt8]) {
        self.sender = sender
        self.receiver = receiver
        self.remoteStaticKey = remoteStaticKey
        self.handshakeHash = handshakeHash
    }

    /// The largest plaintext one transport message can carry: 65535 - 16 bytes.
    public static let maxPlaintextLength = NoiseProtocol.maxMessageLength - NoiseProtocol.tagLength

    /// The nonce the next outgoing message will use.
    public var sendingNonce: UInt64 { sender.nonce }
    /// The nonce the next incoming message must have been encrypted with.
    public var receivingNonce: UInt64 { receiver.nonce }

    /// Encrypts one transport message (empty associated data).
    /// - Throws: ``NoiseError/messageTooLong(length:limit:)`` for a plaintext above
    ///   ``maxPlaintextLength``; ``NoiseError/nonceExhausted`` after 2^64-1 messages.
    public mutating func encrypt(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard plaintext.count <= Self.maxPlaintextLength else {
            throw .messageTooLong(length: plaintext.count + NoiseProtocol.tagLength, limit: NoiseProtocol.maxMessageLength)
        }
        return try sender.encrypt(associatedData: [], plaintext: plaintext)
    }

    /// Decrypts the next transport message.
    /// - Throws: ``NoiseError/messageTooLong(length:limit:)`` above 65535 bytes;
    ///   ``NoiseError/decryptionFailed`` for a tampered, reordered or foreign message;
    ///   ``NoiseError/nonceExhausted`` after 2^64-1 messages.
    public mutating func decrypt(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard message.count <= NoiseProtocol.maxMessageLength else {
            throw .messageTooLong(length: message.count, limit: NoiseProtocol.maxMessageLength)
        }
        return try receiver.decrypt(associatedData: [], ciphertext: message)
    }

    /// Moves the sending nonce. For tests of nonce exhaustion; never needed on an ordered stream.
    mutating func setSendingNonce(_ value: UInt64) { sender.setNonce(value) }
}
