import Primitives

/// Someone this account has exchanged messages with, and how far we trust them.
public struct Contact: Sendable, Hashable {
    /// Where the relationship stands.
    public enum Status: UInt8, Sendable, Hashable {
        /// We accepted them (or we wrote first): their messages go to the inbox.
        case accepted = 1
        /// They wrote first and we have not answered: their messages are a request.
        case requested = 2
        /// We rejected or blocked them: their messages are dropped.
        case blocked = 3
    }

    public let username: Username
    /// The identity key we have seen for them (trust on first use until verified).
    public var identityKey: Ed25519PublicKey
    public var status: Status
    /// The user compared safety numbers and confirmed this identity key.
    public var verified: Bool
    /// Their identity key changed since we last confirmed it: sending waits for the user to
    /// trust the new key.
    public var identityChanged: Bool

    public init(username: Username, identityKey: Ed25519PublicKey, status: Status, verified: Bool = false, identityChanged: Bool = false) {
        self.username = username
        self.identityKey = identityKey
        self.status = status
        self.verified = verified
        self.identityChanged = identityChanged
    }
}

/// The rules for who may reach the inbox and when an identity key may be used.
public enum ContactPolicy {
    /// What to do with an incoming message.
    public enum Routing: Sendable, Equatable {
        /// Show it in the conversation.
        case inbox
        /// Keep it readable under requests until the user accepts or rejects.
        case request
        /// Drop it silently: the sender is blocked.
        case drop
    }

    /// The result of comparing a presented identity key with what we know.
    public enum IdentityVerdict: Sendable, Equatable {
        /// First contact: remember this key (trust on first use).
        case firstUse
        /// The key we already know.
        case unchanged
        /// A different key for a known contact: surface it loudly, mark unverified, hold sending.
        case changed(previous: Ed25519PublicKey)
    }

    public static func routing(for contact: Contact?) -> Routing {
        switch contact?.status {
        case nil, .requested: .request
        case .accepted: .inbox
        case .blocked: .drop
        }
    }

    public static func identityVerdict(presented: Ed25519PublicKey, known contact: Contact?) -> IdentityVerdict {
        guard let contact else { return .firstUse }
        return contact.identityKey == presented ? .unchanged : .changed(previous: contact.identityKey)
    }

    /// The contact after seeing `presented` from them: a change replaces the key, clears
    /// verification and sets ``Contact/identityChanged`` until the user trusts it again.
    public static func applying(_ verdict: IdentityVerdict, presented: Ed25519PublicKey, to contact: Contact) -> Contact {
        var updated = contact
        if case .changed = verdict {
            updated.identityKey = presented
            updated.verified = false
            updated.identityChanged = true
        }
        return updated
    }

    /// Whether we may encrypt to this contact now (not while an identity change is unconfirmed,
    /// and never to a blocked contact).
    public static func maySend(to contact: Contact) -> Bool {
        !contact.identityChanged && contact.status != .blocked
    }
}
