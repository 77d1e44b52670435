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

    public init(identityKey: Ed25519PublicKey, identitySignature: Ed25519Signature? = nil, signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?) {
        self.identityKey = identityKey
        self.identitySignature = identitySignature
        self.signedPrekey = signedPrekey
        self.oneTimePrekey = oneTimePrekey
    }
}

/// A prekey bundle whose signed prekey carries a valid signature by its identity key. Only
/// ``PrekeyBundleVerifier/verify(_:)`` creates one.
public struct VerifiedPrekeyBundle: Sendable, Hashable {
    public let identityKey: Ed25519PublicKey
    public let signedPrekey: SignedPrekey
    public let oneTimePrekey: OneTimePrekey?

    fileprivate init(_ bundle: UnverifiedPrekeyBundle) {
        identityKey = bundle.identityKey
        signedPrekey = bundle.signedPrekey
        oneTimePrekey = bundle.oneTimePrekey
    }
}

/// Why a prekey operation was refused.
public enum PrekeyError: Error, Equatable, Sendable {
    /// A signed prekey's signature does not verify under the claimed identity key.
    case invalidSignature(signedPrekeyID: UInt32)
    /// The identity key's binding signature does not name the account the bundle was fetched for.
    case invalidIdentityBinding(Username)
    /// A key could not be generated or converted.
    case crypto(CryptoError)
}

/// Checks prekey bundles and signs signed prekeys (the "Parley SPK v1" construction).
public struct PrekeyBundleVerifier: Sendable {
    private let crypto: any CryptoProvider

    public init(crypto: any CryptoProvider) {
        self.crypto = crypto
    }

    /// Verifies the signed prekey's signature under the bundle's identity key and, when `owner`
    /// is given and the bundle carries one, the identity key's binding to that username.
    /// - Throws: ``PrekeyError/invalidSignature(signedPrekeyID:)``,
    ///   ``PrekeyError/invalidIdentityBinding(_:)``.
    public func verify(_ bundle: UnverifiedPrekeyBundle, owner: Username? = nil) throws(PrekeyError) -> VerifiedPrekeyBundle {
        guard isValid(bundle.signedPrekey, identityKey: bundle.identityKey) else {
            throw .invalidSignature(signedPrekeyID: bundle.signedPrekey.id)
        }
        if let owner, let binding = bundle.identitySignature,
            !IdentityBinding.isValid(binding, identityKey: bundle.identityKey, username: owner, crypto: crypto) {
            throw .invalidIdentityBinding(owner)
        }
        return VerifiedPrekeyBundle(bundle)
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
