import Primitives

/// Every session this device holds with one peer: the current one, which sends, and up to
/// ``ConversationLimits/maxPreviousSessions`` previous ones, which can still receive.
///
/// Why more than one: when two people write first at the same time, each runs X3DH and each
/// receives the other's prelude. With one session per peer, each side replaced its own session
/// with the other's and neither could read anything again. A record keeps both (libsignal's
/// `SessionRecord` with archived states does the same): a new prelude archives the current session
/// instead of overwriting it, decryption tries the current session and then the previous ones,
/// and a message that decrypts in a previous session promotes it to current, so the two sides
/// converge on one session within a round trip or two.
///
/// A value type: ``SessionCipher`` returns the changed record for the caller to store.
public struct SessionRecord: Sendable, Equatable {
    /// Who the sessions are with.
    public let peer: Username
    /// The session new messages are sent in; nil in an empty record.
    public private(set) var current: Session?
    /// Older sessions that may still receive, most recently current first.
    public private(set) var previous: [Session]
    /// The server ids of the latest deliveries from the peer that were processed, oldest first
    /// (at most ``ConversationLimits/maxRememberedDeliveries``): saved with the record in the
    /// same transaction, so a re-delivery of one of them is ignored instead of failing to decrypt.
    public private(set) var processedDeliveries: [UInt64]

    /// An empty record (no session yet).
    public init(peer: Username) {
        self.peer = peer
        current = nil
        previous = []
        processedDeliveries = []
    }

    /// A record with the given sessions, trimmed to the limit (the oldest dropped).
    /// - Precondition: every session is with `peer` (a caller bug otherwise).
    public init(peer: Username, current: Session?, previous: [Session] = [], processedDeliveries: [UInt64] = []) {
        precondition(([current].compactMap { $0 } + previous).allSatisfy { $0.peer == peer }, "a session record holds sessions with one peer")
        self.peer = peer
        self.current = current
        self.previous = Array(previous.prefix(ConversationLimits.maxPreviousSessions))
        self.processedDeliveries = Array(processedDeliveries.suffix(ConversationLimits.maxRememberedDeliveries))
    }

    /// Whether the delivery with server id `id` was already processed.
    public func hasProcessed(delivery id: UInt64) -> Bool {
        processedDeliveries.contains(id)
    }

    /// Remembers that the delivery with server id `id` was processed (the oldest id is forgotten
    /// beyond the limit).
    public mutating func noteProcessed(delivery id: UInt64) {
        guard !hasProcessed(delivery: id) else { return }
        processedDeliveries.append(id)
        if processedDeliveries.count > ConversationLimits.maxRememberedDeliveries { processedDeliveries.removeFirst() }
    }

    /// The sessions in the order decryption tries them: the current one, then the previous ones.
    public var sessions: [Session] { [current].compactMap { $0 } + previous }

    /// Whether the record holds no session at all.
    public var isEmpty: Bool { current == nil && previous.isEmpty }

    /// The session whose X3DH base key (the initiator's ephemeral key) is `baseKey`, if held.
    public func session(withBaseKey baseKey: X25519PublicKey) -> Session? {
        sessions.first { $0.baseKey == baseKey }
    }

    /// Makes `session` current. The session it replaces is archived (first in ``previous``); an
    /// older copy of `session` (the same base key) is dropped; so are previous sessions bound to
    /// another identity key than `session`'s, which belong to a peer's old identity; and the oldest
    /// beyond ``ConversationLimits/maxPreviousSessions``.
    public mutating func promote(_ session: Session) {
        precondition(session.peer == peer, "a session record holds sessions with one peer")
        var older = sessions.filter { $0.baseKey != session.baseKey && $0.peerIdentityKey == session.peerIdentityKey }
        if older.count > ConversationLimits.maxPreviousSessions { older.removeLast(older.count - ConversationLimits.maxPreviousSessions) }
        current = session
        previous = older
    }

    /// Replaces the held copy of `session` (matched by base key) without changing which session is
    /// current. Does nothing if the record does not hold it.
    public mutating func update(_ session: Session) {
        if current?.baseKey == session.baseKey {
            current = session
        } else if let index = previous.firstIndex(where: { $0.baseKey == session.baseKey }) {
            previous[index] = session
        }
    }
}
