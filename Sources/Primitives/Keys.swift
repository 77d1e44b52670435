/// Public keys and signatures: fixed-length byte strings that are not secret.
///
/// Each algorithm's public key is its own type so that an X25519 key cannot be passed where an
/// Ed25519 key is expected, and no public type can be confused with a secret one.

/// Validates the length of a public byte string once, at the boundary.
@inline(__always)
func checkedBytes(_ bytes: some Sequence<UInt8>, length: Int, what: String) throws(CryptoError) -> [UInt8] {
    let array = Array(bytes)
    guard array.count == length else {
        throw CryptoError.invalidLength(what: what, expected: length, got: array.count)
    }
    return array
}

/// An X25519 (Curve25519 Montgomery) public key, 32 bytes.
public struct X25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) throws(CryptoError) {
        self.bytes = try checkedBytes(bytes, length: Self.byteCount, what: "X25519 public key")
    }

    public var description: String { "X25519PublicKey(\(Hex.encode(bytes)))" }
}

/// An X25519 secret scalar, 32 bytes. Clamping is applied by the DH function, not stored.
public struct X25519SecretKey: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public static let byteCount = 32
    public let secret: SecretBytes

    public init(_ secret: SecretBytes) throws(CryptoError) {
        guard secret.count == Self.byteCount else {
            throw CryptoError.invalidLength(what: "X25519 secret key", expected: Self.byteCount, got: secret.count)
        }
        self.secret = secret
    }

    public var description: String { "X25519SecretKey(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// An X25519 key pair.
public struct X25519KeyPair: Sendable, Equatable {
    public let secretKey: X25519SecretKey
    public let publicKey: X25519PublicKey

    public init(secretKey: X25519SecretKey, publicKey: X25519PublicKey) {
        self.secretKey = secretKey
        self.publicKey = publicKey
    }
}

/// An Ed25519 public key, 32 bytes.
public struct Ed25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) throws(CryptoError) {
        self.bytes = try checkedBytes(bytes, length: Self.byteCount, what: "Ed25519 public key")
    }

    public var description: String { "Ed25519PublicKey(\(Hex.encode(bytes)))" }
}

/// An Ed25519 secret key in libsodium's 64-byte form: the 32-byte seed followed by the public key.
public struct Ed25519SecretKey: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public static let byteCount = 64
    public let secret: SecretBytes

    public init(_ secret: SecretBytes) throws(CryptoError) {
        guard secret.count == Self.byteCount else {
            throw CryptoError.invalidLength(what: "Ed25519 secret key", expected: Self.byteCount, got: secret.count)
        }
        self.secret = secret
    }

    /// The 32-byte seed the key was derived from (the first half).
    public var seed: SecretBytes { secret.slice(0..<32) }

    public var description: String { "Ed25519SecretKey(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// An Ed25519 key pair: a Parley account's long-term identity.
public struct Ed25519KeyPair: Sendable, Equatable {
    public let secretKey: Ed25519SecretKey
    public let publicKey: Ed25519PublicKey

    public init(secretKey: Ed25519SecretKey, publicKey: Ed25519PublicKey) {
        self.secretKey = secretKey
        self.publicKey = publicKey
    }
}

/// A detached Ed25519 signature, 64 bytes.
public struct Ed25519Signature: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 64
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) throws(CryptoError) {
        self.bytes = try checkedBytes(bytes, length: Self.byteCount, what: "Ed25519 signature")
    }

    public var description: String { "Ed25519Signature(\(Hex.encode(bytes)))" }
}

/// A 256-bit symmetric key for an AEAD.
public struct SymmetricKey: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public static let byteCount = 32
    public let secret: SecretBytes

    public init(_ secret: SecretBytes) throws(CryptoError) {
        guard secret.count == Self.byteCount else {
            throw CryptoError.invalidLength(what: "symmetric key", expected: Self.byteCount, got: secret.count)
        }
        self.secret = secret
    }

    public var description: String { "SymmetricKey(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
