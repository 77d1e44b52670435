import Conversations
import Primitives
import WireProtocol

/// Why a client operation failed, in words a user can act on.
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The operation needs a logged-in session.
    case notLoggedIn
    /// The server refused the request; its stable code and message are kept.
    case refused(WireError)
    /// The connection failed or timed out.
    case connection(ClientConnectionError)
    /// The contact's identity key changed and the user has not confirmed the new one.
    case identityUnconfirmed(Username)
    /// The contact is blocked locally.
    case contactBlocked(Username)
    /// There is no known contact of that name (for safety numbers, verification...).
    case unknownContact(Username)
    /// A prekey bundle did not verify.
    case invalidBundle(Username)
    /// The contact's bundle has no ML-KEM prekey (their client predates PQXDH, or the server
    /// removed it): no session is set up, since a classical one would be a silent downgrade.
    case noPostQuantumKeys(Username)
    /// The image was refused before anything was sent.
    case image(ImageError)
    /// Local storage failed.
    case storage(StoreError)
    /// Encryption failed (a broken session or key).
    case encryption(String)
    /// The message text is empty or too long.
    case invalidMessage(String)

    public var description: String {
        switch self {
        case .notLoggedIn: "not logged in"
        case .refused(let error): error.message
        case .connection(let error): error.description
        case .identityUnconfirmed(let user):
            "\(user)'s safety number has changed. Compare it (safety-number \(user)), then run 'verify \(user)' or 'trust \(user)' before sending"
        case .contactBlocked(let user): "you blocked \(user); unblock them first"
        case .unknownContact(let user): "no conversation with \(user) yet"
        case .invalidBundle(let user): "\(user)'s keys on the server are not validly signed; not sending"
        case .noPostQuantumKeys(let user):
            "\(user) has no post-quantum (ML-KEM) prekey on the server (their client may predate PQXDH); not sending: a session without one would fall back to classical X3DH"
        case .image(let error): "image refused: \(error)"
        case .storage(.diskFull): "local storage failed: the disk is full (free some space and try again)"
        case .storage(let error): "local storage failed: \(error)"
        case .encryption(let reason): "encryption failed: \(reason)"
        case .invalidMessage(let reason): reason
        }
    }
}

/// Something the user should see, as it happens.
public enum ClientEvent: Sendable, Equatable {
    /// A message arrived (text or image), already stored.
    case message(HistoryEntry)
    /// Delivery or read receipts raised the status of sent messages.
    case receipts(peer: Username, ids: [MessageIDValue], status: HistoryEntry.Status)
    /// A contact's identity key changed: loud warning; sending to them is held.
    case identityChanged(Username)
    /// A first message said it came from this user but carried an identity key the server does
    /// not hold for them (someone relaying another person's message under this name). It was
    /// dropped and acknowledged; nothing was stored.
    case identityMismatch(from: Username)
    /// Someone declined our message request.
    case requestDeclined(Username)
    /// A message could not be decrypted even with every session held; it was acknowledged, and,
    /// when `retryRequested`, the sender was asked (in a new session) to send it again.
    case decryptionFailed(from: Username, retryRequested: Bool)
    /// A message could not be saved (a storage error, e.g. a full disk). It was not acknowledged:
    /// it stays on the server and is tried again on the next push, login or receive.
    case storageFailed(from: Username, error: StoreError)
    /// An image arrived that failed validation here; it was dropped.
    case imageRefused(from: Username, reason: String)
    /// A received image is kept (sealed) in history, but the clear copy the `save-images` setting
    /// asks for could not be written.
    case imageSaveFailed(from: Username, error: StoreError)
    /// Another device logged in to this account; this session has ended.
    case signedInElsewhere
    /// The connection to the server ended.
    case disconnected(reason: String)
}

/// A message id in event form (hex), so events stay simple values.
public typealias MessageIDValue = String

extension StoreError {
    /// What a person should read when saving a message failed, with what to do about it.
    public var saveFailureAdvice: String {
        switch self {
        case .diskFull: "the disk is full (free some space; it will be retried)"
        case .corrupt(let detail): "the local database is damaged (\(detail)); it will be retried"
        case .unavailable(let detail), .alreadyExists(let detail), .notFound(let detail), .limitReached(let detail):
            "local storage failed (\(detail)); it will be retried"
        }
    }
}
