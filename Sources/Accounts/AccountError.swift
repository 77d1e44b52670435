import Primitives

/// Why an account operation (registration, login, deletion) was refused.
///
/// The cases a client may see cross the wire with stable codes; ``storeFailure(_:)`` and
/// ``hashingFailed(_:)`` are server faults, reported to the client as a generic internal error and
/// logged locally.
public enum AccountError: Error, Equatable, Sendable {
    /// Registration: the requested name breaks the ``Username`` rules (3-32 characters of
    /// `[a-z0-9_.-]`, starting with a letter).
    case invalidUsername(UsernameError)
    /// Registration: an account with this (normalised) name already exists.
    case usernameTaken(Username)
    /// Registration: another account already has this identity key. One key speaks for one
    /// account: registering someone else's public key would let its holder's messages be shown
    /// under another name (an unknown key-share).
    case identityKeyTaken
    /// Registration: the password breaks the password policy; the reason says which rule.
    case weakPassword(PasswordRejection)
    /// Login: the username is unknown, malformed, or the password is wrong. The cases are
    /// deliberately one, so that a login cannot be used to learn which names exist.
    case invalidCredentials
    /// Login: this name is locked for this source address, or the address is, after repeated
    /// failures (``LoginThrottlePolicy``); try again after `retryAfter`. The password was not
    /// checked, the attempt was not counted, and an unknown name is locked exactly like a real one.
    case throttled(retryAfter: Duration)
    /// The account store failed (disk full, corrupt database...). Not the caller's fault.
    case storeFailure(StoreError)
    /// The password hasher could not run (e.g. not enough memory for its cost). Not the caller's
    /// fault.
    case hashingFailed(CryptoError)
}

/// Which password rule a registration broke.
public enum PasswordRejection: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than ``AccountLimits/minimumPasswordLength`` Unicode scalars.
    case tooShort(minimum: Int, got: Int)
    /// More than ``AccountLimits/maximumPasswordBytes`` UTF-8 bytes.
    case tooLong(maximumBytes: Int, got: Int)
    /// The password is the username, ignoring ASCII case.
    case sameAsUsername
    /// The bytes are not valid UTF-8 (a client always sends text).
    case notUTF8

    public var description: String {
        switch self {
        case .tooShort(let minimum, let got): "a password has at least \(minimum) characters (got \(got))"
        case .tooLong(let maximum, let got): "a password has at most \(maximum) bytes (got \(got))"
        case .sameAsUsername: "the password must not be the username"
        case .notUTF8: "the password is not valid UTF-8"
        }
    }
}
