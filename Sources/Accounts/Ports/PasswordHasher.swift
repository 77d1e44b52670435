import Primitives

/// The password-hashing port: turns a password into a self-describing hash string and checks a
/// password against one.
///
/// A port rather than a direct call so that the cost is chosen by the composition root (Argon2id
/// INTERACTIVE in production, the minimum in tests) and so that the Accounts domain never names a
/// crypto library. The production implementation is ``Argon2idPasswordHasher``.
public protocol PasswordHasher: Sendable {
    /// A fresh hash string for `password`, with a new random salt and the hasher's cost.
    /// - Throws: ``CryptoError/passwordHashingFailed(reason:)`` when the hash cannot be computed.
    func hash(_ password: SecretBytes) throws(CryptoError) -> String

    /// Whether `password` matches `hash`. Returns false for a malformed hash string rather than
    /// throwing, so a damaged record simply refuses logins. Spends the full cost of the hash
    /// whatever the answer.
    func verify(_ password: SecretBytes, against hash: String) -> Bool

    /// Whether `hash` was made with a cost other than the hasher's current one, so that it should be
    /// replaced after the next successful login.
    func needsRehash(_ hash: String) -> Bool
}
