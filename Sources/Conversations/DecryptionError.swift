import Envelope
import Primitives

/// Why a message could not be encrypted or decrypted. After any of these the session is unchanged.
public enum DecryptionError: Error, Equatable, Sendable {
    /// The AEAD rejected the message (wrong key, tampered header, ciphertext or associated data, or
    /// bad padding). Deliberately one case: the outside learns nothing about which check failed.
    case authenticationFailed
    /// The message was already decrypted (its key is gone): a replay or a duplicate delivery.
    case duplicateMessage(messageNumber: UInt32)
    /// The header asks to skip more than MAX_SKIP messages in one chain.
    case tooManySkippedMessages(requested: UInt32, limit: UInt32)
    /// A responder tried to send before receiving the initiator's first message.
    case noSendingChain
    /// The sending chain reached 2^32 - 1 messages; a new session is needed.
    case chainExhausted
    /// There is no session with the sender and the message cannot start one.
    case noSession
    /// A prekey message names a signed or one-time prekey this device does not hold (already used,
    /// expired, or never ours).
    case unknownPrekey(signedPrekeyID: UInt32, oneTimePrekeyID: UInt32?)
    /// A prekey message names an ML-KEM prekey this device does not hold.
    case unknownKEMPrekey(id: UInt32)
    /// A prekey message would start a session with classical X3DH alone (no ML-KEM
    /// encapsulation): refused, never set up (no downgrade; the sender's client predates PQXDH).
    case classicalSessionRefused
    /// The envelope or its content did not decode.
    case malformed(DecodingError)
    /// A key agreement failed (e.g. a small-order key).
    case crypto(CryptoError)
}
