import Primitives

/// The Double Ratchet's root key: 32 secret bytes, advanced by each DH ratchet step.
struct RootKey: Sendable, Equatable {
    let secret: SecretBytes
}

/// A sending or receiving chain key: 32 secret bytes, advanced by each message.
struct ChainKey: Sendable, Equatable {
    let secret: SecretBytes
}

/// A message key: used for exactly one message, then forgotten.
struct MessageKey: Sendable, Equatable {
    let secret: SecretBytes
}

/// The Parley v1 key derivation functions (see PROTOCOL.md).
struct RatchetKDF: Sendable {
    static let rootInfo = Array("Parley Ratchet v1".utf8)
    static let messageInfo = Array("Parley Message v1".utf8)
    static let zeroSalt = [UInt8](repeating: 0, count: 32)

    let crypto: any CryptoProvider

    /// KDF_RK(rk, dh) = HKDF-SHA256(salt = rk, ikm = dh, info = "Parley Ratchet v1", 64 bytes):
    /// the new root key is the first half, the new chain key the second.
    func rootStep(_ rootKey: RootKey, dhOutput: SecretBytes) throws(CryptoError) -> (RootKey, ChainKey) {
        // The root key is the salt: passed as a secret, never exported into an ordinary array.
        let okm = try crypto.hkdfSHA256(secretSalt: rootKey.secret, inputKeyMaterial: dhOutput, info: Self.rootInfo, length: 64)
        return (RootKey(secret: okm.slice(0..<32)), ChainKey(secret: okm.slice(32..<64)))
    }

    /// KDF_CK(ck): message key = HMAC-SHA256(ck, 0x01), next chain key = HMAC-SHA256(ck, 0x02).
    func chainStep(_ chainKey: ChainKey) -> (ChainKey, MessageKey) {
        let messageKey = crypto.hmacSHA256(key: chainKey.secret, message: Self.messageKeyByte)
        let nextChainKey = crypto.hmacSHA256(key: chainKey.secret, message: Self.chainKeyByte)
        return (ChainKey(secret: nextChainKey), MessageKey(secret: messageKey))
    }

    static let messageKeyByte: [UInt8] = [0x01]
    static let chainKeyByte: [UInt8] = [0x02]

    /// The AEAD key and nonce for a message key: HKDF-SHA256(salt = 32 zero bytes, ikm = mk,
    /// info = "Parley Message v1", 56 bytes), the key the first 32 bytes and the nonce the last
    /// 24, kept together in one secret and read in place by the AEAD.
    func messageKeyAndNonce(_ messageKey: MessageKey) throws(CryptoError) -> SecretBytes {
        try crypto.hkdfSHA256(salt: Self.zeroSalt, inputKeyMaterial: messageKey.secret, info: Self.messageInfo, length: 56)
    }
}
