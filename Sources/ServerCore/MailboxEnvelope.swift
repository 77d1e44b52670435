import Primitives

/// An envelope the server has been asked to store: opaque to the server (it is end-to-end
/// encrypted by the sender), addressed by username.
public struct MailboxEnvelopeDraft: Sendable, Hashable {
    public let sender: Username
    public let recipient: Username
    /// The identity key the sender encrypted for. When set, the store refuses the draft unless an
    /// account called ``recipient`` exists with this very key and does not block ``sender``,
    /// checked in the transaction that would store it (see ``MailboxStore/commit(enqueue:acknowledge:)``).
    /// The server always sets it; nil (no recipient check) is for tests of the caps alone.
    public let recipientIdentity: Ed25519PublicKey?
    /// The encrypted envelope, never inspected by the server. At most
    /// ``MailboxLimits/maxPayloadBytes``.
    public let payload: [UInt8]
    /// The server's time of acceptance, read from its clock by the application.
    public let acceptedAt: Timestamp

    public init(sender: Username, recipient: Username, recipientIdentity: Ed25519PublicKey? = nil, payload: [UInt8], acceptedAt: Timestamp) {
        self.sender = sender
        self.recipient = recipient
        self.recipientIdentity = recipientIdentity
        self.payload = payload
        self.acceptedAt = acceptedAt
    }
}

/// An envelope the store has committed, with its server-assigned id.
public struct MailboxEnvelope: Sendable, Hashable, Identifiable {
    /// Assigned by the store: strictly increasing in commit order among the envelopes of one
    /// recipient and never reused for that recipient, even after deletion, so "everything after
    /// id N" is a stable cursor of the recipient's mailbox and id order preserves each sender's
    /// order. Only (recipient, id) names an envelope: two recipients may each have an id 7
    /// (the PostgreSQL mailbox numbers each recipient 1, 2, 3, ...).
    public let id: UInt64
    public let sender: Username
    public let recipient: Username
    public let payload: [UInt8]
    public let acceptedAt: Timestamp

    public init(id: UInt64, sender: Username, recipient: Username, payload: [UInt8], acceptedAt: Timestamp) {
        self.id = id
        self.sender = sender
        self.recipient = recipient
        self.payload = payload
        self.acceptedAt = acceptedAt
    }

    /// This envelope's draft fields with `id`.
    public init(id: UInt64, draft: MailboxEnvelopeDraft) {
        self.init(id: id, sender: draft.sender, recipient: draft.recipient, payload: draft.payload, acceptedAt: draft.acceptedAt)
    }
}

/// What the store did with one draft of an ``MailboxStore/enqueue(_:)`` batch.
public enum EnqueueOutcome: Sendable, Hashable {
    /// Durably stored (on disk, for a durable store, before `enqueue` returned).
    case accepted(MailboxEnvelope)
    /// Not stored, and nothing else in the batch was affected.
    case refused(MailboxRefusal)
}

/// Why a draft was refused. Crosses the wire (with a stable code) so the sender can tell the user.
public enum MailboxRefusal: Error, Sendable, Hashable {
    /// The recipient already has `limit` envelopes waiting.
    case tooManyEnvelopes(limit: Int)
    /// Storing the payload would take the recipient's waiting bytes over `limit`.
    case tooManyBytes(limit: Int)
    /// The payload alone is larger than `limit` bytes.
    case payloadTooLarge(bytes: Int, limit: Int)
    /// The sender already has `envelopes` envelopes, or storing the payload would take them over
    /// `bytes`, in this recipient's queue: their share of it is used up (others can still write).
    case senderShareFull(envelopes: Int, bytes: Int)
    /// All mailboxes together are at the server's quota (``MailboxLimits/maxTotalBytes``).
    case serverFull
    /// The draft names a recipient identity key and there is no account called `recipient`
    /// (never registered, or deleted).
    case unknownRecipient
    /// The recipient's account has another identity key than the draft names (the name was
    /// registered again): the envelope was encrypted for someone else.
    case recipientIdentityChanged
    /// The recipient blocks the sender.
    case blockedByRecipient
}

/// How much is waiting for one recipient.
public struct MailboxUsage: Sendable, Hashable {
    /// Envelopes waiting.
    public var count: Int
    /// Sum of their payloads' lengths.
    public var bytes: Int

    public init(count: Int, bytes: Int) {
        self.count = count
        self.bytes = bytes
    }

    public static let empty = MailboxUsage(count: 0, bytes: 0)
}
