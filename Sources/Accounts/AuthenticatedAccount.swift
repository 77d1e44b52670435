import Primitives

/// Proof that a login succeeded: only ``AccountService/logIn(username:password:)`` can make one, so
/// an operation that takes it (deletion, and the server's per-session work) cannot be reached
/// without the password having been checked.
public struct AuthenticatedAccount: Sendable, Hashable {
    public let username: Username
    public let identityKey: Ed25519PublicKey

    init(username: Username, identityKey: Ed25519PublicKey) {
        self.username = username
        self.identityKey = identityKey
    }
}
