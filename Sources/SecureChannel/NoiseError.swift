import Primitives

/// Why a Noise handshake or transport operation failed.
///
/// Every failure of ``CipherState``, ``SymmetricState``, ``HandshakeState`` and ``NoiseTransport`` is
/// one of these values; none of those types traps on input from the network. No case carries secret
/// bytes. After any error a ``HandshakeState`` is aborted: the spec requires the whole handshake to
/// be abandoned, so every later call throws ``handshakeAborted``.
public enum NoiseError: Error, Equatable, Sendable {
    /// A message to write or read is longer than the 65535 bytes a Noise message may have
    /// (spec section 3). `length` is the offending length.
    case messageTooLong(length: Int, limit: Int)
    /// A handshake message ended before a public key or authentication tag it must contain.
    case messageTooShort(needed: Int, got: Int)
    /// AEAD authentication failed: wrong key, wrong prologue, a tampered or replayed message. The
    /// causes are deliberately indistinguishable.
    case decryptionFailed
    /// The nonce counter reached 2^64-1, which the spec reserves: the cipher state refuses to
    /// encrypt or decrypt any further message. The session must be replaced by a new handshake.
    case nonceExhausted
    /// A Diffie-Hellman result was all zeroes: the peer sent a small-order public key.
    case nonContributoryKeyAgreement
    /// `writeMessage` was called when the pattern expects to read, or the reverse. `expected`
    /// names the action the handshake is waiting for.
    case outOfTurn(expected: HandshakeState.NextAction)
    /// ``HandshakeState/split()`` was called before the last handshake message was processed.
    case handshakeIncomplete
    /// The handshake state was used after an earlier failure, or after it was split.
    case handshakeAborted
    /// The crypto port refused an operation Noise needed (for example an output length); `CryptoError`
    /// carries the port's reason. Not expected with a conforming provider.
    case cryptoFailure(CryptoError)
}
