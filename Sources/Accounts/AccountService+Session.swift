import Primitives

extension AccountService {
    /// Registers an account and returns the proof of authentication for the registering session:
    /// the password was just set by this caller, so a second Argon2id verification would only
    /// double the cost of registration.
    /// - Throws: as ``register(username:password:identityKey:identitySignature:)``.
    public func registerAndAuthenticate(
        username: String, password: SecretBytes, identityKey: Ed25519PublicKey, identitySignature: Ed25519Signature
    ) throws(AccountError) -> AuthenticatedAccount {
        let record = try register(username: username, password: password, identityKey: identityKey, identitySignature: identitySignature)
        return AuthenticatedAccount(username: record.username, identityKey: record.identityKey)
    }
}
