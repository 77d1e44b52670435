import Prekeys
import Primitives

/// The X3DH key agreement (signal.org/docs/specifications/x3dh) with the Parley v1 profile:
/// identity keys are Ed25519 and take part in DH in their X25519 form.
///
/// SK = HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
/// info = "Parley X3DH v1", 32 bytes); AD = IK_A || IK_B (Ed25519 publics).
public struct X3DH: Sendable {
    static let info = Array("Parley X3DH v1".utf8)
    static let filler = [UInt8](repeating: 0xff, count: 32)
    static let zeroSalt = [UInt8](repeating: 0, count: 32)

    /// What both sides end up with.
    public struct Agreement: Sendable, Equatable {
        public let sharedSecret: SecretBytes
        public let associatedData: [UInt8]
    }

    private let crypto: any CryptoProvider

    public init(crypto: any CryptoProvider) {
        self.crypto = crypto
    }

    /// Alice's side: DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
    /// DH4 = DH(EK_A, OPK_B) when the bundle has a one-time prekey.
    public func initiate(localIdentity: Ed25519KeyPair, ephemeral: X25519KeyPair, bundle: VerifiedPrekeyBundle) throws(CryptoError) -> Agreement {
        let identitySecret = try crypto.x25519SecretKey(converting: localIdentity.secretKey)
        let remoteIdentity = try crypto.x25519PublicKey(converting: bundle.identityKey)
        var parts = [
            try crypto.x25519(identitySecret, bundle.signedPrekey.publicKey),
            try crypto.x25519(ephemeral.secretKey, remoteIdentity),
            try crypto.x25519(ephemeral.secretKey, bundle.signedPrekey.publicKey),
        ]
        if let oneTime = bundle.oneTimePrekey {
            parts.append(try crypto.x25519(ephemeral.secretKey, oneTime.publicKey))
        }
        return try agreement(parts, initiator: localIdentity.publicKey, responder: bundle.identityKey)
    }

    /// Bob's side, mirroring ``initiate(localIdentity:ephemeral:bundle:)`` with his secrets.
    public func respond(
        localIdentity: Ed25519KeyPair, signedPrekey: X25519KeyPair, oneTimePrekey: X25519KeyPair?,
        remoteIdentity: Ed25519PublicKey, remoteEphemeral: X25519PublicKey
    ) throws(CryptoError) -> Agreement {
        let identitySecret = try crypto.x25519SecretKey(converting: localIdentity.secretKey)
        var parts = [
            try crypto.x25519(signedPrekey.secretKey, crypto.x25519PublicKey(converting: remoteIdentity)),
            try crypto.x25519(identitySecret, remoteEphemeral),
            try crypto.x25519(signedPrekey.secretKey, remoteEphemeral),
        ]
        if let oneTimePrekey {
            parts.append(try crypto.x25519(oneTimePrekey.secretKey, remoteEphemeral))
        }
        return try agreement(parts, initiator: remoteIdentity, responder: localIdentity.publicKey)
    }

    private func agreement(_ dhOutputs: [SecretBytes], initiator: Ed25519PublicKey, responder: Ed25519PublicKey) throws(CryptoError) -> Agreement {
        let inputKeyMaterial = SecretBytes.concatenating([SecretBytes(copying: Self.filler)] + dhOutputs)
        let sharedSecret = try crypto.hkdfSHA256(salt: Self.zeroSalt, inputKeyMaterial: inputKeyMaterial, info: Self.info, length: 32)
        return Agreement(sharedSecret: sharedSecret, associatedData: initiator.bytes + responder.bytes)
    }
}
