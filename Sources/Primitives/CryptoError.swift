/// Why a cryptographic operation refused to produce a result.
///
/// Adapters translate their library's return codes into these cases; no case ever carries secret
/// bytes.
public enum CryptoError: Error, Equatable, Sendable {
    /// A key, nonce, salt or signature had the wrong length for its algorithm.
    case invalidLength(what: String, expected: Int, got: Int)
    /// An X25519 computation produced the all-zero shared secret: the peer's public key was of
    /// small order, so the result carries no contribution from it.
    case nonContributoryKeyAgreement
    /// A public or secret key was rejected by the library (e.g. an Ed25519 point not on the curve
    /// during conversion to X25519).
    case invalidKey(what: String)
    /// An AEAD open failed: wrong key, wrong nonce, tampered ciphertext or associated data. The
    /// cases are deliberately indistinguishable.
    case authenticationFailed
    /// A requested output length is outside what the algorithm allows.
    case invalidOutputLength(requested: Int, allowed: ClosedRange<Int>)
    /// Argon2id could not run with the requested cost (typically not enough memory).
    case passwordHashingFailed(reason: String)
    /// The crypto library could not be initialised.
    case libraryUnavailable
}
