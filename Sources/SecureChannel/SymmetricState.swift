import Primitives

/// A Noise `SymmetricState` (spec section 5.2): the chaining key `ck`, the handshake hash `h` and
/// the ``CipherState`` they key.
///
/// `ck` is secret and kept in ``SecretBytes``; `h` is not secret (it is public transcript hash
/// material) and is kept as an array.
public struct SymmetricState: Sendable {
    private var cipher: CipherState
    private var chainingKey: SecretBytes
    /// The handshake hash `h`: after the handshake, a unique, public identifier of the session that
    /// both sides share (spec section 11.2, channel binding).
    public private(set) var handshakeHash: [UInt8]
    private let hashing: NoiseHash
    private let crypto: any CryptoProvider

    /// InitializeSymmetric(protocol_name): `h` is the name padded with zeroes to HASHLEN (or its
    /// hash, if longer), `ck = h`, and the cipher has no key.
    /// - Throws: ``NoiseError/cryptoFailure(_:)`` if the port cannot hash.
    public init(protocolName: String, crypto: any CryptoProvider) throws(NoiseError) {
        self.crypto = crypto
        hashing = NoiseHash(crypto: crypto)
        let name = Array(protocolName.utf8)
        if name.count <= NoiseProtocol.hashLength {
            handshakeHash = name + [UInt8](repeating: 0, count: NoiseProtocol.hashLength - name.count)
        } else {
            handshakeHash = try hashing.hash(name)
        }
        chainingKey = SecretBytes(copying: handshakeHash)
        cipher = CipherState(crypto: crypto)
    }

    /// Whether the inner cipher state has a key (so `s` and payloads are encrypted).
    public var hasKey: Bool { cipher.hasKey }

    /// MixKey(input_key_material): `ck, temp_k = HKDF(ck, ikm, 2)`; the cipher is keyed with the
    /// first 32 bytes of `temp_k`.
    public mutating func mixKey(_ inputKeyMaterial: SecretBytes) throws(NoiseError) {
        let (newChainingKey, tempKey) = try hashing.hkdf2(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial)
        chainingKey = newChainingKey
        cipher = CipherState(key: try Self.truncatedKey(tempKey), crypto: crypto)
    }

    /// MixHash(data): `h = HASH(h || data)`.
    public mutating func mixHash(_ data: [UInt8]) throws(NoiseError) {
        handshakeHash = try hashing.hash(handshakeHash + data)
    }

    /// EncryptAndHash(plaintext): encrypts with `h` as associated data, then mixes the ciphertext
    /// into `h`.
    public mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipher.encrypt(associatedData: handshakeHash, plaintext: plaintext)
        try mixHash(ciphertext)
        return ciphertext
    }

    /// DecryptAndHash(ciphertext): decrypts with `h` as associated data, then mixes the ciphertext
    /// into `h`.
    /// - Throws: ``NoiseError/decryptionFailed`` when authentication fails.
    public mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipher.decrypt(associatedData: handshakeHash, ciphertext: ciphertext)
        try mixHash(ciphertext)
        return plaintext
    }

    /// Split(): the two transport cipher states, from `HKDF(ck, empty, 2)` truncated to 32 bytes:
    /// the first encrypts what the initiator sends, the second what the responder sends.
    public func split() throws(NoiseError) -> (initiatorToResponder: CipherState, responderToInitiator: CipherState) {
        let (first, second) = try hashing.hkdf2(chainingKey: chainingKey, inputKeyMaterial: SecretBytes(zeroes: 0))
        return (
            CipherState(key: try Self.truncatedKey(first), crypto: crypto),
            CipherState(key: try Self.truncatedKey(second), crypto: crypto)
        )
    }

    /// With HASHLEN 64, cipher keys are the first 32 bytes of an HKDF output (spec section 5.2).
    private static func truncatedKey(_ output: SecretBytes) throws(NoiseError) -> SymmetricKey {
        do {
            return try SymmetricKey(output.slice(0..<SymmetricKey.byteCount))
        } catch {
            throw .cryptoFailure(error)
        }
    }
}
