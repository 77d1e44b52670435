import Primitives

/// The signature by which an identity key claims one account name: Ed25519 over
/// `"Parley identity v1"` (18 ASCII bytes) || username length (u32 BE) || username (UTF-8).
///
/// Why it exists: without it, anyone could register another person's public identity key under a
/// name of their own and relay that person's messages as theirs (an unknown key-share, X3DH
/// specification section 4.8). Registration carries it, the server verifies it before storing the
/// account and hands it out with the identity key, and clients verify it again.
public enum IdentityBinding {
    static let context = Array("Parley identity v1".utf8)

    /// The bytes the identity key signs for `username`.
    public static func signedMessage(username: Username) -> [UInt8] {
        let name = Array(username.value.utf8)
        var writer = ByteWriter(capacity: context.count + 4 + name.count)
        writer.writeRaw(context)
        writer.write(UInt32(name.count))
        writer.writeRaw(name)
        return writer.bytes
    }

    /// Signs the binding of `identity`'s public key to `username` (at registration).
    public static func sign(username: Username, with identity: Ed25519KeyPair, crypto: any CryptoProvider) throws(CryptoError) -> Ed25519Signature {
        try crypto.sign(signedMessage(username: username), with: identity.secretKey)
    }

    /// Whether `signature` binds `identityKey` to `username`.
    public static func isValid(_ signature: Ed25519Signature, identityKey: Ed25519PublicKey, username: Username, crypto: any CryptoProvider) -> Bool {
        crypto.verify(signature, of: signedMessage(username: username), by: identityKey)
    }
}
