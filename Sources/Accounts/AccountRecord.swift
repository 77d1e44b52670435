import Primitives

/// A registered account as the server stores it: everything needed to authenticate a login and to
/// hand out the user's identity key, and nothing secret (the password is kept only as an Argon2id
/// hash string).
public struct AccountRecord: Sendable, Equatable, CustomStringConvertible {
    /// The normalised account name; the store's key.
    public let username: Username
    /// The PHC-format password hash (algorithm, cost and salt included), from ``PasswordHasher``.
    public var passwordHash: String
    /// The account's long-term Ed25519 identity key, fixed at registration. No two accounts have
    /// the same one (the store refuses a second).
    public let identityKey: Ed25519PublicKey
    /// The identity key's signature over the username (`IdentityBinding` in Prekeys), verified at
    /// registration and handed out with the key. Nil only for accounts registered before server
    /// schema 2.
    public let identitySignature: Ed25519Signature?
    /// When the account was registered.
    public let createdAt: Timestamp
    /// Consecutive failed logins since the last success.
    public var failedLoginCount: Int
    /// While set and in the future, logins are refused without checking the password.
    public var lockedUntil: Timestamp?

    public init(
        username: Username, passwordHash: String, identityKey: Ed25519PublicKey, identitySignature: Ed25519Signature? = nil,
        createdAt: Timestamp, failedLoginCount: Int = 0, lockedUntil: Timestamp? = nil
    ) {
        self.username = username
        self.passwordHash = passwordHash
        self.identityKey = identityKey
        self.identitySignature = identitySignature
        self.createdAt = createdAt
        self.failedLoginCount = failedLoginCount
        self.lockedUntil = lockedUntil
    }

    /// The throttle fields as one value, as ``AccountStore/updateLoginThrottle(for:from:to:)``
    /// compares and sets them.
    public var loginThrottle: LoginThrottle {
        get { LoginThrottle(failedLoginCount: failedLoginCount, lockedUntil: lockedUntil) }
        set {
            failedLoginCount = newValue.failedLoginCount
            lockedUntil = newValue.lockedUntil
        }
    }

    /// Leaves the password hash out: it is not a secret, but an offline guessing attack starts
    /// from it, so it has no business in a log.
    public var description: String {
        "AccountRecord(\(username), identityKey: \(identityKey), createdAt: \(createdAt), "
            + "failedLoginCount: \(failedLoginCount), lockedUntil: \(lockedUntil.map(String.init(describing:)) ?? "nil"))"
    }
}
