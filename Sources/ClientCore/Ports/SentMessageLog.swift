import Envelope
import Primitives

/// A message this device sent, kept so that it can be sent again if the recipient reports that
/// it could not decrypt it (a retry request, see PROTOCOL.md).
public struct SentMessage: Sendable, Equatable {
    /// Who it was sent to.
    public let peer: Username
    /// What was sent: the same id, clock and body are sent again, so the recipient shows it once.
    public let content: MessageContent
    /// The id the server gave the envelope that carried it (the last one, after a resend).
    public var envelopeID: UInt64
    /// When the server accepted that envelope.
    public var acceptedAt: Timestamp
    /// When this entry was first logged: it expires ``SentLogLimits/maxAge`` later.
    public let loggedAt: Timestamp
    /// How often it was sent again after retry requests (bounded by ``ClientLimits/maxResends``).
    public var resends: Int
    /// The recipient asked for it again and it has not been resent yet. Set in the transaction
    /// that handles the retry request, cleared by the one that records the resend, so a resend
    /// that fails (offline, a full disk) or is cut by a crash is done later, never forgotten.
    public var resendPending: Bool

    public init(
        peer: Username, content: MessageContent, envelopeID: UInt64, acceptedAt: Timestamp, loggedAt: Timestamp, resends: Int = 0,
        resendPending: Bool = false
    ) {
        self.peer = peer
        self.content = content
        self.envelopeID = envelopeID
        self.acceptedAt = acceptedAt
        self.loggedAt = loggedAt
        self.resends = resends
        self.resendPending = resendPending
    }
}

/// The sender's log of recent messages (Signal's message send log): sealed at rest like history,
/// bounded in count, bytes and age, each entry deleted when its delivery receipt arrives.
public protocol SentMessageLog: Sendable {
    /// Logs `message`, replacing an entry with the same message id, then forgets entries logged
    /// before `now` minus the adapter's ``SentLogLimits/maxAge`` and the oldest beyond its
    /// ``SentLogLimits/maxEntries`` or ``SentLogLimits/maxBytes`` (the new entry is always kept).
    /// - Throws: `.diskFull` or `.unavailable` when it cannot be written (nothing changes).
    func record(_ message: SentMessage, now: Timestamp) throws(StoreError)
    /// The entry whose last envelope to `peer` had the server id `envelopeID`, if still logged.
    /// - Throws: `.corrupt` for an entry that fails authentication; `.unavailable` on I/O failure.
    func message(to peer: Username, envelopeID: UInt64) throws(StoreError) -> SentMessage?
    /// Forgets the entries with these message ids (their delivery receipts arrived); unknown ids
    /// are ignored.
    func remove(messageIDs: [MessageID]) throws(StoreError)
    /// The entries with ``SentMessage/resendPending`` set, oldest first.
    func pendingResends() throws(StoreError) -> [SentMessage]
    /// How many entries are logged.
    func count() throws(StoreError) -> Int
}
