/// An ML-KEM-1024 public (encapsulation) key: 1,568 bytes (FIPS 203).
public struct MLKEMPublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 1568
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) throws(CryptoError) {
        self.bytes = try checkedBytes(bytes, length: Self.byteCount, what: "ML-KEM-1024 public key")
    }

    public var description: String { "MLKEMPublicKey(\(Hex.encode(bytes.prefix(8)))…)" }
}

/// An ML-KEM-1024 secret key, kept as its 64-byte seed (d || z, FIPS 203 section 6.1), from
/// which the decapsulation key is derived. Redacted in descriptions, zeroed on release.
public struct MLKEMSecretKey: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public static let seedByteCount = 64
    public let seed: SecretBytes

    public init(seed: SecretBytes) throws(CryptoError) {
        guard seed.count == Self.seedByteCount else {
            throw CryptoError.invalidLength(what: "ML-KEM-1024 seed", expected: Self.seedByteCount, got: seed.count)
        }
        self.seed = seed
    }

    public var description: String { "MLKEMSecretKey(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// An ML-KEM-1024 key pair.
public struct MLKEMKeyPair: Sendable, Equatable {
    public let publicKey: MLKEMPublicKey
    public let secretKey: MLKEMSecretKey

    public init(publicKey: MLKEMPublicKey, secretKey: MLKEMSecretKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// An ML-KEM-1024 ciphertext: 1,568 bytes.
public struct MLKEMCiphertext: Hashable, Sendable {
    public static let byteCount = 1568
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) throws(CryptoError) {
        self.bytes = try checkedBytes(bytes, length: Self.byteCount, what: "ML-KEM-1024 ciphertext")
    }
}

/// The key encapsulation mechanism the session setup uses (PQXDH; PROTOCOL.md): ML-KEM-1024,
/// FIPS 203. A sibling of ``CryptoProvider``, implemented by its own adapter, so that the domain
/// names the operations and never the library.
public protocol KEMProvider: Sendable {
    /// The key pair FIPS 203's ML-KEM.KeyGen_internal derives from a 64-byte seed (d || z).
    func mlkem1024KeyPair(seed: SecretBytes) throws(CryptoError) -> MLKEMKeyPair

    /// Encapsulates a fresh 32-byte shared secret to `publicKey`.
    func mlkem1024Encapsulate(to publicKey: MLKEMPublicKey) throws(CryptoError) -> (ciphertext: MLKEMCiphertext, sharedSecret: SecretBytes)

    /// The shared secret inside `ciphertext`. ML-KEM decapsulation never fails on a well-formed
    /// ciphertext: a tampered one yields an unrelated secret (implicit rejection), which then fails
    /// the first AEAD open.
    func mlkem1024Decapsulate(_ ciphertext: MLKEMCiphertext, with secretKey: MLKEMSecretKey) throws(CryptoError) -> SecretBytes
}

extension KEMProvider {
    /// A new key pair from `random`'s 64-byte seed.
    public func generateMLKEMKeyPair(using random: any RandomSource) throws(CryptoError) -> MLKEMKeyPair {
        try mlkem1024KeyPair(seed: random.secret(count: MLKEMSecretKey.seedByteCount))
    }
}
