import Primitives

/// The public half of a signed prekey as published on the server: an X25519 key with a 32-bit id,
/// signed by the owner's Ed25519 identity key.
public struct SignedPrekey: Sendable, Hashable {
    public let id: UInt32
    public let publicKey: X25519PublicKey
    public let signature: Ed25519Signature

    public init(id: UInt32, publicKey: X25519PublicKey, signature: Ed25519Signature) {
        self.id = id
        self.publicKey = publicKey
        self.signature = signature
    }

    /// The bytes the identity key signs: `"Parley SPK v1"` || id (u32 BE) || public key (32).
    public static func signedMessage(id: UInt32, publicKey: X25519PublicKey) -> [UInt8] {
        var writer = ByteWriter(capacity: 13 + 4 + 32)
        writer.writeRaw(Array("Parley SPK v1".utf8))
        writer.write(id)
        writer.writeRaw(publicKey.bytes)
        return writer.bytes
    }
}

/// The public half of a one-time prekey: an X25519 key with a 32-bit id, handed out at most once.
public struct OneTimePrekey: Sendable, Hashable {
    public let id: UInt32
    public let publicKey: X25519PublicKey

    public init(id: UInt32, publicKey: X25519PublicKey) {
        self.id = id
        self.publicKey = publicKey
    }
}

/// A signed prekey with its secret, as the owner's client keeps it.
public struct SignedPrekeyPair: Sendable, Equatable {
    public let id: UInt32
    public let keyPair: X25519KeyPair
    public let signature: Ed25519Signature
    /// When it was generated; drives rotation and the erasure of retired keys.
    public let createdAt: Timestamp

    public init(id: UInt32, keyPair: X25519KeyPair, signature: Ed25519Signature, createdAt: Timestamp) {
        self.id = id
        self.keyPair = keyPair
        self.signature = signature
        self.createdAt = createdAt
    }

    /// The part that is published.
    public var publicPrekey: SignedPrekey {
        SignedPrekey(id: id, publicKey: keyPair.publicKey, signature: signature)
    }
}

/// A one-time prekey with its secret, as the owner's client keeps it until first use.
public struct OneTimePrekeyPair: Sendable, Equatable {
    public let id: UInt32
    public let keyPair: X25519KeyPair

    public init(id: UInt32, keyPair: X25519KeyPair) {
        self.id = id
        self.keyPair = keyPair
    }

    public var publicPrekey: OneTimePrekey { OneTimePrekey(id: id, publicKey: keyPair.publicKey) }
}

/// A prekey bundle as fetched from the server: nothing in it is trusted until
/// ``PrekeyBundleVerifier`` has checked the signed prekey's signature (and the identity binding).
public struct UnverifiedPrekeyBundle: Sendable, Hashable {
    public let identityKey: Ed25519PublicKey
    /// The identity key's signature over its owner's username (``IdentityBinding``). Absent only
    /// for accounts registered before the server stored bindings.
    public let identitySignature: Ed25519Signature?
    public let signedPrekey: SignedPrekey
    /// Absent when the owner's pool of one-time prekeys is empty; X3DH then runs without DH4.
    public let oneTimePrekey: OneTimePrekey?
    /// The ML-KEM prekey for PQXDH: a one-time one while any remain, else the last-resort one.
    /// Absent only for an account whose client never published one (it predates PQXDH): such a
    /// bundle is refused (``PrekeyError/missingKEMPrekey``), never used for classical X3DH.
    public let kemPrekey: BundledKEMPrekey?

    public init(
        identityKey: Ed25519PublicKey, identitySignature: Ed25519Signature? = nil, signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?,
        kemPrekey: BundledKEMPrekey? = nil
    ) {
        self.identityKey = identityKey
        self.identitySignature = identitySignature
        self.signedPrekey = signedPrekey
        self.oneTimePrekey = oneTimePrekey
        self.kemPrekey = kemPrekey
    }
}

/// A prekey bundle whose signed prekey carries a valid signature by its identity key. Only
/// ``PrekeyBundleVerifier/verify(_:)`` creates one.
public struct VerifiedPrekeyBundle: Sendable, Hashable {
    public let identityKey: Ed25519PublicKey
    public let signedPrekey: SignedPrekey
    public let oneTimePrekey: OneTimePrekey?
    /// Always present: a bundle without one does not verify (no downgrade to classical X3DH).
    public let kemPrekey: BundledKEMPrekey

    fileprivate init(_ bundle: UnverifiedPrekeyBundle, kemPrekey: BundledKEMPrekey) {
        identityKey = bundle.identityKey
        signedPrekey = bundle.signedPrekey
        oneTimePrekey = bundle.oneTimePrekey
        self.kemPrekey = kemPrekey
    }
}

/// Why a prekey operation was refused.
public enum PrekeyError: Error, Equatable, Sendable {
    /// A signed prekey's signature does not verify under the claimed identity key.
    case invalidSignature(signedPrekeyID: UInt32)
    /// The identity key's binding signature does not name the account the bundle was fetched for.
    case invalidIdentityBinding(Username)
    /// The bundle has no ML-KEM prekey (its owner's client predates PQXDH, or the server stripped
    /// it): a new session is never set up with classical X3DH alone.
    case missingKEMPrekey
    /// An ML-KEM prekey's signature does not verify under the claimed identity key.
    case invalidKEMSignature(kemPrekeyID: UInt32)
    /// A key could not be generated or converted.
    case crypto(CryptoError)
}

/// Checks prekey bundles and signs signed prekeys (the "Parley SPK v1" construction).
public struct PrekeyBundleVerifier: Sendable {
    private let crypto: any CryptoProvider

    public init(crypto: any CryptoProvider) {
        self.crypto = crypto
    }

    /// Verifies the signed prekey's and the ML-KEM prekey's signatures under the bundle's identity
    /// key and, when `owner` is given and the bundle carries one, the identity key's binding to
    /// that username.
    /// - Throws: ``PrekeyError/invalidSignature(signedPrekeyID:)``,
    ///   ``PrekeyError/missingKEMPrekey`` (no downgrade), ``PrekeyError/invalidKEMSignature(kemPrekeyID:)``,
    ///   ``PrekeyError/invalidIdentityBinding(_:)``.
    public func verify(_ bundle: UnverifiedPrekeyBundle, owner: Username? = nil) throws(PrekeyError) -> VerifiedPrekeyBundle {
        guard isValid(bundle.signedPrekey, identityKey: bundle.identityKey) else {
            throw .invalidSignature(signedPrekeyID: bundle.signedPrekey.id)
        }
        guard let kemPrekey = bundle.kemPrekey else { throw .missingKEMPrekey }
        guard isValid(kemPrekey.prekey, identityKey: bundle.identityKey) else {
            throw .invalidKEMSignature(kemPrekeyID: kemPrekey.prekey.id)
        }
        if let owner, let binding = bundle.identitySignature,
            !IdentityBinding.isValid(binding, identityKey: bundle.identityKey, username: owner, crypto: crypto) {
            throw .invalidIdentityBinding(owner)
        }
        return VerifiedPrekeyBundle(bundle, kemPrekey: kemPrekey)
    }

    /// Whether `prekey` is signed by `identityKey` (the "Parley PQPK v1" construction). The server
    /// uses this to refuse a bad upload; clients always verify again.
    public func isValid(_ prekey: KEMPrekey, identityKey: Ed25519PublicKey) -> Bool {
        crypto.verify(prekey.signature, of: KEMPrekey.signedMessage(id: prekey.id, publicKey: prekey.publicKey), by: identityKey)
    }

    /// Whether `signature` binds `identityKey` to `username` (``IdentityBinding``). The server
    /// refuses a registration without a valid one; clients verify it again.
    public func isValidBinding(_ signature: Ed25519Signature, identityKey: Ed25519PublicKey, username: Username) -> Bool {
        IdentityBinding.isValid(signature, identityKey: identityKey, username: username, crypto: crypto)
    }

    /// Whether `signedPrekey` is signed by `identityKey`. The server uses this to refuse a bad
    /// upload; clients always verify again.
    public func isValid(_ signedPrekey: SignedPrekey, identityKey: Ed25519PublicKey) -> Bool {
        crypto.verify(
            signedPrekey.signature,
            of: SignedPrekey.signedMessage(id: signedPrekey.id, publicKey: signedPrekey.publicKey),
            by: identityKey)
    }
}

/// The public half of an ML-KEM-1024 prekey (PQXDH's PQPK), signed by the owner's identity key.
/// A client publishes one last-resort key (kept until it is rotated, and handed out when no
/// one-time key is left) and a pool of one-time keys (each handed out at most once).
public struct KEMPrekey: Sendable, Hashable {
    /// The type byte in front of an encoded ML-KEM-1024 public key (libsignal's value for
    /// Kyber1024/ML-KEM-1024), so that the encodings of X25519 and ML-KEM keys can never collide.
    public static let typeByte: UInt8 = 0x08

    public let id: UInt32
    public let publicKey: MLKEMPublicKey
    public let signature: Ed25519Signature

    public init(id: UInt32, publicKey: MLKEMPublicKey, signature: Ed25519Signature) {
        self.id = id
        self.publicKey = publicKey
        self.signature = signature
    }

    /// The bytes the identity key signs: `"Parley PQPK v1"` || id (u32 BE) || 0x08 || public key
    /// (1568).
    public static func signedMessage(id: UInt32, publicKey: MLKEMPublicKey) -> [UInt8] {
        var writer = ByteWriter(capacity: 14 + 4 + 1 + MLKEMPublicKey.byteCount)
        writer.writeRaw(Array("Parley PQPK v1".utf8))
        writer.write(id)
        writer.write(typeByte)
        writer.writeRaw(publicKey.bytes)
        return writer.bytes
    }
}

/// An ML-KEM prekey with its secret, as the owner's client keeps it.
public struct KEMPrekeyPair: Sendable, Equatable {
    public let id: UInt32
    public let keyPair: MLKEMKeyPair
    public let signature: Ed25519Signature
    /// Whether this is the last-resort key (kept after use) rather than a one-time key.
    public let isLastResort: Bool
    /// When it was generated; drives the rotation of last-resort keys.
    public let createdAt: Timestamp

    public init(id: UInt32, keyPair: MLKEMKeyPair, signature: Ed25519Signature, isLastResort: Bool, createdAt: Timestamp) {
        self.id = id
        self.keyPair = keyPair
        self.signature = signature
        self.isLastResort = isLastResort
        self.createdAt = createdAt
    }

    public var publicPrekey: KEMPrekey { KEMPrekey(id: id, publicKey: keyPair.publicKey, signature: signature) }
}

/// The ML-KEM prekey a bundle carries, and whether it is the last-resort one.
public struct BundledKEMPrekey: Sendable, Hashable {
    public let prekey: KEMPrekey
    public let isLastResort: Bool

    public init(_ prekey: KEMPrekey, isLastResort: Bool) {
        self.prekey = prekey
        self.isLastResort = isLastResort
    }
}
