import Envelope
import Prekeys
import Primitives

/// A client's request. Every request carries an id that its response echoes.
public struct Request: Sendable {
    public let id: UInt32
    public let body: Body

    public init(id: UInt32, body: Body) {
        self.id = id
        self.body = body
    }

    public enum Body: Sendable {
        /// Create an account and publish its identity and prekeys; logs the connection in.
        /// `identitySignature` binds the identity key to `username` (``IdentityBinding``); the
        /// server verifies it and refuses an identity key another account already has.
        case register(
            username: Username, password: SecretBytes, identityKey: Ed25519PublicKey, identitySignature: Ed25519Signature,
            signedPrekey: SignedPrekey, oneTimePrekeys: [OneTimePrekey])
        /// Authenticate this connection. A later login to the same account wins.
        case login(username: Username, password: SecretBytes)
        /// End the session on this connection (the connection stays open).
        case logout
        /// Delete the account, re-authenticated with the password.
        case deleteAccount(password: SecretBytes)
        /// Replace the signed prekey and/or add one-time prekeys.
        case publishPrekeys(signedPrekey: SignedPrekey?, oneTimePrekeys: [OneTimePrekey])
        /// A user's prekey bundle; consumes one of their one-time prekeys.
        case fetchBundle(username: Username)
        /// A user's identity key and its binding signature, consuming nothing (a client checks a
        /// first message's identity key against it).
        case identity(username: Username)
        /// How many one-time prekeys this account has left on the server.
        case prekeyCount
        /// Which of this account's one-time prekeys the server still holds (the others were handed
        /// out), so the client can expire secrets nobody used (``Response/Body/prekeyStatus(heldIDs:)``).
        case prekeyStatus
        /// Publish ML-KEM prekeys for PQXDH (after login: they do not fit the pre-login frame): a
        /// new last-resort key (replacing the previous one) and/or one-time keys, each signed by
        /// the identity key.
        case publishKEMPrekeys(lastResort: KEMPrekey?, oneTime: [KEMPrekey])
        /// Which of this account's one-time ML-KEM prekeys the server still holds, and its
        /// last-resort key's id (``Response/Body/kemPrekeyStatus(oneTimeIDs:lastResortID:)``).
        case kemPrekeyStatus
        /// Store an opaque envelope for `recipient`; answered once it is durably stored. The
        /// sender names the identity key it encrypted to: if the recipient's account now has
        /// another (it was deleted and registered again), the server refuses with
        /// ``WireError/Code/identityChanged`` so the sender can warn its user instead of sending
        /// into a session nobody can read.
        case send(recipient: Username, recipientIdentity: Ed25519PublicKey, envelope: [UInt8])
        /// The listed deliveries were received and stored; the server deletes them.
        case acknowledge(ids: [UInt64])
        case block(username: Username)
        case unblock(username: Username)
        case ping
    }
}

/// The server's answer to one request.
public struct Response: Sendable, Equatable {
    public let requestID: UInt32
    public let body: Body

    public init(requestID: UInt32, body: Body) {
        self.requestID = requestID
        self.body = body
    }

    public enum Body: Sendable, Equatable {
        /// Success with nothing to say.
        case ok
        /// Logged in; `pending` deliveries will follow as pushes.
        case loggedIn(pending: UInt32)
        case bundle(UnverifiedPrekeyBundle)
        /// The answer to ``Request/Body/identity(username:)``.
        case identity(PublishedIdentity)
        case prekeyCount(UInt32)
        /// The ids of the one-time prekeys the server holds for this account, ascending (at most
        /// ``WireLimits/maxReportedPrekeyIDs``, which is also the most the server keeps).
        case prekeyStatus(heldIDs: [UInt32])
        /// The answer to ``Request/Body/kemPrekeyStatus``: held one-time ids, ascending (at most
        /// ``WireLimits/maxReportedPrekeyIDs``), and the last-resort key's id if there is one.
        case kemPrekeyStatus(oneTimeIDs: [UInt32], lastResortID: UInt32?)
        /// The envelope is on disk under this id.
        case accepted(envelopeID: UInt64, acceptedAt: Timestamp)
        case pong
        case error(WireError)
    }
}

/// An account's identity key as the server holds it, with the key's signature binding it to the
/// account's username (``IdentityBinding``); the signature is absent only for accounts registered
/// before the server stored bindings.
public struct PublishedIdentity: Sendable, Equatable {
    public let identityKey: Ed25519PublicKey
    public let signature: Ed25519Signature?

    public init(identityKey: Ed25519PublicKey, signature: Ed25519Signature?) {
        self.identityKey = identityKey
        self.signature = signature
    }
}

/// Something the server says without being asked.
public enum Push: Sendable, Equatable {
    /// An envelope for this account. Acknowledge it once stored.
    case delivery(Delivery)
    /// Another connection logged in to this account; this one is being closed.
    case signedInElsewhere
    /// This account's pool of one-time prekeys is running low.
    case prekeysLow(remaining: UInt32)
}

/// An envelope as delivered: the server's id and timestamp around the opaque bytes.
public struct Delivery: Sendable, Equatable {
    public let id: UInt64
    public let sender: Username
    public let acceptedAt: Timestamp
    public let envelope: [UInt8]

    public init(id: UInt64, sender: Username, acceptedAt: Timestamp, envelope: [UInt8]) {
        self.id = id
        self.sender = sender
        self.acceptedAt = acceptedAt
        self.envelope = envelope
    }
}

/// An error that crosses the wire: a stable code and a human message.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) (\(code))" }

    /// Stable numeric codes. Never renumber; add new ones at the end of their range.
    public enum Code: UInt16, Sendable, Equatable, CustomStringConvertible {
        case malformedRequest = 1
        case unsupportedVersion = 2
        case usernameTaken = 10
        case invalidUsername = 11
        case weakPassword = 12
        /// Wrong username or password (deliberately not saying which).
        case invalidCredentials = 13
        case throttled = 14
        case notAuthenticated = 15
        case alreadyAuthenticated = 16
        /// Registration: another account already has this identity key.
        case identityKeyTaken = 17
        /// Registration: the identity signature does not bind the identity key to the username.
        case invalidIdentityBinding = 18
        case unknownUser = 20
        case noPrekeys = 21
        case invalidPrekeys = 22
        /// The recipient's identity key is not the one the sender named.
        case identityChanged = 23
        case mailboxFull = 30
        /// The recipient does not accept messages from this sender.
        case refused = 31
        case tooLarge = 40
        case internalError = 50
        case unavailable = 51
        /// The server is too busy to check a password now (its queue for logins and registrations
        /// is full); nothing was attempted or counted. Retry after a short wait.
        case busy = 52

        public var description: String {
            switch self {
            case .malformedRequest: "malformed-request"
            case .unsupportedVersion: "unsupported-version"
            case .usernameTaken: "username-taken"
            case .invalidUsername: "invalid-username"
            case .weakPassword: "weak-password"
            case .invalidCredentials: "invalid-credentials"
            case .throttled: "throttled"
            case .notAuthenticated: "not-authenticated"
            case .alreadyAuthenticated: "already-authenticated"
            case .identityKeyTaken: "identity-key-taken"
            case .invalidIdentityBinding: "invalid-identity-binding"
            case .unknownUser: "unknown-user"
            case .noPrekeys: "no-prekeys"
            case .invalidPrekeys: "invalid-prekeys"
            case .identityChanged: "identity-changed"
            case .mailboxFull: "mailbox-full"
            case .refused: "refused"
            case .tooLarge: "too-large"
            case .internalError: "internal-error"
            case .unavailable: "unavailable"
            case .busy: "busy"
            }
        }
    }
}

/// One frame on the wire: exactly one of these.
public enum WireMessage: Sendable {
    case request(Request)
    case response(Response)
    case push(Push)
}

/// The wire protocol's bounds, in one place.
public enum WireLimits {
    public static let version: UInt8 = 1
    public static let maxPasswordBytes = 1024
    public static let maxUsernameBytes = 64
    public static let maxOneTimePrekeysPerRequest = PrekeyPolicy.maxOneTimePrekeysPerUpload
    public static let maxAcknowledgedIDs = 4096
    /// Most ids in a `prekey status` answer: the most one-time prekeys the server keeps per account.
    public static let maxReportedPrekeyIDs = PrekeyPolicy.maxOneTimePrekeysPerAccount
    public static let maxErrorMessageBytes = 1024
    /// The largest opaque envelope a client may send (an image message, padded, with headers).
    public static let maxEnvelopeBytes = EnvelopeLimits.maxEnvelopeBytes
    /// The largest frame this protocol produces, for the transport's frame limit.
    public static let maxFrameBytes = maxEnvelopeBytes + 1024
}
