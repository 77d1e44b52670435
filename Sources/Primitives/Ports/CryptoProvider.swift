/// The crypto port: every cryptographic primitive Parley's core uses, and nothing else.
///
/// Declared here, in the shared core, so that the domain modules can run X3DH, the Double Ratchet
/// and Noise without knowing which library does the arithmetic. The production adapter is
/// `SodiumCryptoProvider` (libsodium); tests use the same adapter, checked against published
/// vectors and an independent Python implementation.
///
/// Every method is deterministic: randomness comes from the separate ``RandomSource`` port, so
/// that tests can replay exact key material. Failures are ``CryptoError`` values, never traps.
public protocol CryptoProvider: Sendable {
    // MARK: X25519

    /// The public key for an X25519 secret (`crypto_scalarmult_base`).
    func x25519PublicKey(for secretKey: X25519SecretKey) throws(CryptoError) -> X25519PublicKey

    /// X25519 Diffie-Hellman (`crypto_scalarmult`).
    /// - Throws: ``CryptoError/nonContributoryKeyAgreement`` when the result is all zeroes.
    func x25519(_ secretKey: X25519SecretKey, _ publicKey: X25519PublicKey) throws(CryptoError) -> SecretBytes

    // MARK: Ed25519

    /// The Ed25519 key pair for a 32-byte seed (RFC 8032 key generation).
    func ed25519KeyPair(seed: SecretBytes) throws(CryptoError) -> Ed25519KeyPair

    /// A detached Ed25519 signature.
    func sign(_ message: [UInt8], with secretKey: Ed25519SecretKey) throws(CryptoError) -> Ed25519Signature

    /// Whether `signature` is a valid Ed25519 signature of `message` by `publicKey`.
    func verify(_ signature: Ed25519Signature, of message: [UInt8], by publicKey: Ed25519PublicKey) -> Bool

    /// The X25519 (Montgomery) form of an Ed25519 public key.
    /// - Throws: ``CryptoError/invalidKey(what:)`` for a point that does not convert.
    func x25519PublicKey(converting publicKey: Ed25519PublicKey) throws(CryptoError) -> X25519PublicKey

    /// The X25519 form of an Ed25519 secret key.
    func x25519SecretKey(converting secretKey: Ed25519SecretKey) throws(CryptoError) -> X25519SecretKey

    // MARK: AEAD

    /// XChaCha20-Poly1305-IETF: returns ciphertext followed by the 16-byte tag.
    /// - Throws: ``CryptoError/invalidLength(what:expected:got:)`` for a nonce that is not 24 bytes.
    func xChaCha20Poly1305Seal(
        _ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8]

    /// Opens what ``xChaCha20Poly1305Seal(_:associatedData:nonce:key:)`` sealed.
    /// - Throws: ``CryptoError/authenticationFailed`` on any mismatch.
    func xChaCha20Poly1305Open(
        _ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8]

    /// XChaCha20-Poly1305-IETF with the key and the nonce read in place from one secret: its first
    /// 32 bytes are the key, the next 24 the nonce (as the Double Ratchet derives them from a
    /// message key), and the associated data lent in place. Otherwise exactly
    /// ``xChaCha20Poly1305Seal(_:associatedData:nonce:key:)``: the same bytes out.
    /// - Throws: ``CryptoError/invalidLength(what:expected:got:)`` if `keyAndNonce` is not 56 bytes.
    func xChaCha20Poly1305Seal(
        _ plaintext: [UInt8], associatedData: UnsafeRawBufferPointer, keyAndNonce: SecretBytes
    ) throws(CryptoError) -> [UInt8]

    /// Opens what ``xChaCha20Poly1305Seal(_:associatedData:keyAndNonce:)`` (or the array form)
    /// sealed, with the key and nonce read in place from `keyAndNonce` (key || nonce, 56 bytes).
    /// - Throws: ``CryptoError/authenticationFailed`` on any mismatch;
    ///   ``CryptoError/invalidLength(what:expected:got:)`` if `keyAndNonce` is not 56 bytes.
    func xChaCha20Poly1305Open(
        _ ciphertext: [UInt8], associatedData: UnsafeRawBufferPointer, keyAndNonce: SecretBytes
    ) throws(CryptoError) -> [UInt8]

    /// ChaCha20-Poly1305-IETF (RFC 8439, 12-byte nonce), as Noise's `ChaChaPoly` cipher needs.
    func chaCha20Poly1305Seal(
        _ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8]

    /// Opens what ``chaCha20Poly1305Seal(_:associatedData:nonce:key:)`` sealed.
    /// - Throws: ``CryptoError/authenticationFailed`` on any mismatch.
    func chaCha20Poly1305Open(
        _ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8]

    // MARK: Hashes, MACs and KDFs

    /// HMAC-SHA256 (RFC 2104). The key may be any length; the 32-byte tag is secret when the key is.
    func hmacSHA256(key: SecretBytes, message: [UInt8]) -> SecretBytes

    /// HKDF-SHA256 (RFC 5869): extract with `salt`, then expand with `info` to `length` bytes.
    /// - Throws: ``CryptoError/invalidOutputLength(requested:allowed:)`` outside 1...8160.
    func hkdfSHA256(salt: [UInt8], inputKeyMaterial: SecretBytes, info: [UInt8], length: Int) throws(CryptoError) -> SecretBytes

    /// HKDF-SHA256 with a secret salt (the Double Ratchet's root key), read from secret storage
    /// in place; otherwise exactly ``hkdfSHA256(salt:inputKeyMaterial:info:length:)``.
    /// - Throws: ``CryptoError/invalidOutputLength(requested:allowed:)`` outside 1...8160.
    func hkdfSHA256(secretSalt: SecretBytes, inputKeyMaterial: SecretBytes, info: [UInt8], length: Int) throws(CryptoError) -> SecretBytes

    /// SHA-256.
    func sha256(_ data: [UInt8]) -> [UInt8]

    /// SHA-512.
    func sha512(_ data: [UInt8]) -> [UInt8]

    /// BLAKE2b with an output of 16...64 bytes, unkeyed.
    func blake2b(_ data: [UInt8], outputLength: Int) throws(CryptoError) -> [UInt8]

    // MARK: Argon2id

    /// An Argon2id hash string (PHC format, salt included) for `password`.
    func argon2idHashString(password: SecretBytes, cost: Argon2Cost) throws(CryptoError) -> String

    /// Whether `password` matches an Argon2id hash string. Constant-time in the comparison.
    func argon2idVerify(hashString: String, password: SecretBytes) -> Bool

    /// Whether a stored hash string was made with parameters other than `cost`.
    func argon2idNeedsRehash(hashString: String, cost: Argon2Cost) -> Bool

    /// A key of `length` bytes derived from `password` and a 16-byte `salt` with Argon2id.
    func argon2idDeriveKey(password: SecretBytes, salt: [UInt8], length: Int, cost: Argon2Cost) throws(CryptoError) -> SecretBytes
}

/// Argon2id cost parameters, always explicit.
public struct Argon2Cost: Sendable, Hashable, Codable {
    /// Passes over memory (libsodium's `opslimit`).
    public var operations: Int
    /// Memory in bytes (libsodium's `memlimit`).
    public var memoryBytes: Int

    public init(operations: Int, memoryBytes: Int) {
        self.operations = operations
        self.memoryBytes = memoryBytes
    }

    /// libsodium's INTERACTIVE preset: 2 passes, 64 MiB. The server's password hashes.
    public static let interactive = Argon2Cost(operations: 2, memoryBytes: 64 << 20)
    /// libsodium's MODERATE preset: 3 passes, 256 MiB.
    public static let moderate = Argon2Cost(operations: 3, memoryBytes: 256 << 20)
    /// The smallest cost libsodium accepts. Only for tests: it offers no protection.
    public static let minimum = Argon2Cost(operations: 1, memoryBytes: 8192)
    /// Argon2id salt length (`crypto_pwhash_SALTBYTES`).
    public static let saltByteCount = 16
}

extension CryptoProvider {
    /// The key-and-nonce seal built from the array form, for providers that have nothing faster
    /// (the key is sliced into its own secret; the nonce is not secret once used).
    public func xChaCha20Poly1305Seal(
        _ plaintext: [UInt8], associatedData: UnsafeRawBufferPointer, keyAndNonce: SecretBytes
    ) throws(CryptoError) -> [UInt8] {
        let (key, nonce) = try Self.splitKeyAndNonce(keyAndNonce)
        return try xChaCha20Poly1305Seal(plaintext, associatedData: Array(associatedData), nonce: nonce, key: key)
    }

    /// The key-and-nonce open built from the array form.
    public func xChaCha20Poly1305Open(
        _ ciphertext: [UInt8], associatedData: UnsafeRawBufferPointer, keyAndNonce: SecretBytes
    ) throws(CryptoError) -> [UInt8] {
        let (key, nonce) = try Self.splitKeyAndNonce(keyAndNonce)
        return try xChaCha20Poly1305Open(ciphertext, associatedData: Array(associatedData), nonce: nonce, key: key)
    }

    private static func splitKeyAndNonce(_ keyAndNonce: SecretBytes) throws(CryptoError) -> (SymmetricKey, [UInt8]) {
        let expected = SymmetricKey.byteCount + 24
        guard keyAndNonce.count == expected else {
            throw CryptoError.invalidLength(what: "AEAD key and nonce", expected: expected, got: keyAndNonce.count)
        }
        return (try SymmetricKey(keyAndNonce.slice(0..<SymmetricKey.byteCount)), keyAndNonce.slice(SymmetricKey.byteCount..<expected).unsafeExportBytes())
    }

    /// A fresh X25519 key pair from `random`.
    public func generateX25519KeyPair(using random: some RandomSource) throws(CryptoError) -> X25519KeyPair {
        let secretKey = try X25519SecretKey(random.secret(count: X25519SecretKey.byteCount))
        return X25519KeyPair(secretKey: secretKey, publicKey: try x25519PublicKey(for: secretKey))
    }

    /// The key pair for a known X25519 secret.
    public func x25519KeyPair(secretKey: X25519SecretKey) throws(CryptoError) -> X25519KeyPair {
        X25519KeyPair(secretKey: secretKey, publicKey: try x25519PublicKey(for: secretKey))
    }

    /// A fresh Ed25519 key pair from a random seed.
    public func generateEd25519KeyPair(using random: some RandomSource) throws(CryptoError) -> Ed25519KeyPair {
        try ed25519KeyPair(seed: random.secret(count: 32))
    }
}
