import Primitives

/// A Noise `CipherState` (spec section 5.1): an optional ChaChaPoly key `k` and a 64-bit nonce `n`.
///
/// With no key, encryption and decryption pass data through unchanged, as the spec requires during
/// the first handshake message. The nonce is 4 zero bytes followed by `n` as a 64-bit little-endian
/// integer (spec section 12.3); it increases by one for every successful operation, and the value
/// 2^64-1 is reserved, so the state refuses to go further with ``NoiseError/nonceExhausted``. A
/// failed decryption leaves `n` unchanged.
public struct CipherState: Sendable {
    private var key: SymmetricKey?
    /// The nonce the next encryption or decryption will use.
    public private(set) var nonce: UInt64 = 0
    private let crypto: any CryptoProvider

    /// The reserved nonce value that may never be used for a message.
    public static let maxNonce = UInt64.max

    /// InitializeKey(empty): a cipher state with no key yet.
    public init(crypto: any CryptoProvider) {
        self.crypto = crypto
    }

    /// InitializeKey(key): a cipher state with `key` and nonce 0.
    public init(key: SymmetricKey, crypto: any CryptoProvider) {
        self.key = key
        self.crypto = crypto
    }

    /// HasKey(): whether a key has been set.
    public var hasKey: Bool { key != nil }

    /// SetNonce(nonce): moves the counter, for out-of-order transports and tests. Parley's ordered
    /// stream never needs it.
    public mutating func setNonce(_ value: UInt64) {
        nonce = value
    }

    /// EncryptWithAd(ad, plaintext): ciphertext plus 16-byte tag, or the plaintext itself when no
    /// key is set.
    /// - Throws: ``NoiseError/nonceExhausted`` when the nonce has reached 2^64-1.
    public mutating func encrypt(associatedData: [UInt8], plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        guard nonce < Self.maxNonce else { throw .nonceExhausted }
        let ciphertext: [UInt8]
        do {
            ciphertext = try crypto.chaCha20Poly1305Seal(
                plaintext, associatedData: associatedData, nonce: Self.nonceBytes(nonce), key: key)
        } catch {
            throw .cryptoFailure(error)
        }
        nonce += 1
        return ciphertext
    }

    /// DecryptWithAd(ad, ciphertext): the plaintext, or the input itself when no key is set.
    /// - Throws: ``NoiseError/decryptionFailed`` when authentication fails (the nonce is not
    ///   advanced); ``NoiseError/nonceExhausted`` when the nonce has reached 2^64-1.
    public mutating func decrypt(associatedData: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        guard nonce < Self.maxNonce else { throw .nonceExhausted }
        guard ciphertext.count >= NoiseProtocol.tagLength else { throw .decryptionFailed }
        let plaintext: [UInt8]
        do {
            plaintext = try crypto.chaCha20Poly1305Open(
                ciphertext, associatedData: associatedData, nonce: Self.nonceBytes(nonce), key: key)
        } catch {
            throw .decryptionFailed
        }
        nonce += 1
        return plaintext
    }

    /// Rekey(): replaces the key with the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes)
    /// (spec sections 4.2 and 11.3). The nonce is unchanged. Does nothing without a key.
    public mutating func rekey() throws(NoiseError) {
        guard let key else { return }
        do {
            var sealed = try crypto.chaCha20Poly1305Seal(
                [UInt8](repeating: 0, count: SymmetricKey.byteCount), associatedData: [],
                nonce: Self.nonceBytes(Self.maxNonce), key: key)
            defer { for index in sealed.indices { sealed[index] = 0 } }
            self.key = try SymmetricKey(SecretBytes(copying: sealed.prefix(SymmetricKey.byteCount)))
        } catch {
            throw .cryptoFailure(error)
        }
    }

    /// The 96-bit ChaChaPoly nonce: 32 bits of zeroes, then `n` little-endian.
    static func nonceBytes(_ counter: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 {
            bytes[4 + index] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index)))
        }
        return bytes
    }
}
