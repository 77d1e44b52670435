import Prekeys
import Primitives

/// The X3DH key agreement (signal.org/docs/specifications/x3dh) with the Parley v1 profile:
/// identity keys are Ed25519 and take part in DH in their X25519 form.
///
/// SK = HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF * 32 || DH1 || DH2 || DH3 [|| DH4],
/// info = "Parley X3DH v1", 32 bytes); AD = IK_A || IK_B (Ed25519 publics) || len(name_A) (u32 BE)
/// || name_A || len(name_B) (u32 BE) || name_B (UTF-8 usernames).
///
/// The usernames are in AD so that a message is bound to the accounts both sides believe they
/// speak for: relayed by the server (or anyone) under another sender or recipient name, it fails
/// to decrypt (the unknown key-share of the X3DH specification, section 4.8). Identity keys alone
/// did not bind them.
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
    /// - Parameters:
    ///   - localUsername: the initiator's own account name.
    ///   - peer: the account name the bundle was fetched for.
    ///
    /// Classical X3DH no longer starts sessions (``PQXDH`` does, and a bundle without an ML-KEM
    /// prekey does not verify), so this takes the peer's keys, already checked, rather than a
    /// verified bundle: it remains for the sessions made before PQXDH and their vectors.
    public func initiate(
        localUsername: Username, localIdentity: Ed25519KeyPair, ephemeral: X25519KeyPair, peer: Username,
        peerIdentity: Ed25519PublicKey, signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?
    ) throws(CryptoError) -> Agreement {
        let parts = try initiatorDH(
            localIdentity: localIdentity, ephemeral: ephemeral, peerIdentity: peerIdentity, signedPrekey: signedPrekey.publicKey,
            oneTimePrekey: oneTimePrekey?.publicKey)
        return try agreement(
            parts, initiator: (localIdentity.publicKey, localUsername), responder: (peerIdentity, peer))
    }

    /// The initiator's DH1, DH2, DH3 [, DH4], shared with ``PQXDH``.
    func initiatorDH(
        localIdentity: Ed25519KeyPair, ephemeral: X25519KeyPair, peerIdentity: Ed25519PublicKey, signedPrekey: X25519PublicKey,
        oneTimePrekey: X25519PublicKey?
    ) throws(CryptoError) -> [SecretBytes] {
        let identitySecret = try crypto.x25519SecretKey(converting: localIdentity.secretKey)
        let remoteIdentity = try crypto.x25519PublicKey(converting: peerIdentity)
        var parts = [
            try crypto.x25519(identitySecret, signedPrekey),
            try crypto.x25519(ephemeral.secretKey, remoteIdentity),
            try crypto.x25519(ephemeral.secretKey, signedPrekey),
        ]
        if let oneTimePrekey {
            parts.append(try crypto.x25519(ephemeral.secretKey, oneTimePrekey))
        }
        return parts
    }

    /// The responder's DH1, DH2, DH3 [, DH4], shared with ``PQXDH``.
    func responderDH(
        localIdentity: Ed25519KeyPair, signedPrekey: X25519KeyPair, oneTimePrekey: X25519KeyPair?,
        remoteIdentity: Ed25519PublicKey, remoteEphemeral: X25519PublicKey
    ) throws(CryptoError) -> [SecretBytes] {
        let identitySecret = try crypto.x25519SecretKey(converting: localIdentity.secretKey)
        var parts = [
            try crypto.x25519(signedPrekey.secretKey, crypto.x25519PublicKey(converting: remoteIdentity)),
            try crypto.x25519(identitySecret, remoteEphemeral),
            try crypto.x25519(signedPrekey.secretKey, remoteEphemeral),
        ]
        if let oneTimePrekey {
            parts.append(try crypto.x25519(oneTimePrekey.secretKey, remoteEphemeral))
        }
        return parts
    }

    /// Bob's side, mirroring ``initiate(localUsername:localIdentity:ephemeral:peer:peerIdentity:signedPrekey:oneTimePrekey:)``
    /// with his secrets.
    /// - Parameters:
    ///   - localUsername: the responder's own account name.
    ///   - remoteUsername: the sender's account name, as the server delivered the message.
    public func respond(
        localUsername: Username, localIdentity: Ed25519KeyPair, signedPrekey: X25519KeyPair, oneTimePrekey: X25519KeyPair?,
        remoteUsername: Username, remoteIdentity: Ed25519PublicKey, remoteEphemeral: X25519PublicKey
    ) throws(CryptoError) -> Agreement {
        let parts = try responderDH(
            localIdentity: localIdentity, signedPrekey: signedPrekey, oneTimePrekey: oneTimePrekey, remoteIdentity: remoteIdentity,
            remoteEphemeral: remoteEphemeral)
        return try agreement(
            parts, initiator: (remoteIdentity, remoteUsername), responder: (localIdentity.publicKey, localUsername))
    }

    /// AD = IK_A || IK_B || len(name_A) || name_A || len(name_B) || name_B (PROTOCOL.md, X3DH).
    public static func associatedData(
        initiator: (key: Ed25519PublicKey, name: Username), responder: (key: Ed25519PublicKey, name: Username)
    ) -> [UInt8] {
        let initiatorName = Array(initiator.name.value.utf8)
        let responderName = Array(responder.name.value.utf8)
        var writer = ByteWriter(capacity: 64 + 8 + initiatorName.count + responderName.count)
        writer.writeRaw(initiator.key.bytes)
        writer.writeRaw(responder.key.bytes)
        writer.write(UInt32(initiatorName.count))
        writer.writeRaw(initiatorName)
        writer.write(UInt32(responderName.count))
        writer.writeRaw(responderName)
        return writer.bytes
    }

    private func agreement(
        _ dhOutputs: [SecretBytes], initiator: (Ed25519PublicKey, Username), responder: (Ed25519PublicKey, Username)
    ) throws(CryptoError) -> Agreement {
        let inputKeyMaterial = SecretBytes.concatenating([SecretBytes(copying: Self.filler)] + dhOutputs)
        let sharedSecret = try crypto.hkdfSHA256(salt: Self.zeroSalt, inputKeyMaterial: inputKeyMaterial, info: Self.info, length: 32)
        return Agreement(sharedSecret: sharedSecret, associatedData: Self.associatedData(initiator: initiator, responder: responder))
    }
}
