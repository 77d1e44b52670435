/// The bounds of the server's mailboxes, in one place. A parameter of the mailbox store so that
/// tests can use small caps; the server uses ``standard``, built from ``ServerLimits``.
///
/// Caps exist because the server stores envelopes for offline users: without them one sender could
/// fill the disk by writing to a recipient who never comes online, or fill a stranger's queue so
/// that real senders are refused (hence the per-sender share).
public struct MailboxLimits: Sendable, Hashable {
    /// Most envelopes waiting for one recipient.
    public var maxEnvelopes: Int
    /// Most payload bytes waiting for one recipient (the sum of the payloads' lengths).
    public var maxBytes: Int
    /// Largest single payload. Admits the largest envelope a client makes (an image message); the
    /// store's own backstop so that no path can write an unbounded blob.
    public var maxPayloadBytes: Int
    /// Most envelopes one sender may have waiting in one recipient's queue, so that nobody can
    /// fill a stranger's mailbox alone.
    public var maxEnvelopesPerSender: Int
    /// Most payload bytes one sender may have waiting in one recipient's queue.
    public var maxBytesPerSender: Int
    /// Most payload bytes waiting in all mailboxes together: the server's disk quota for mail.
    public var maxTotalBytes: Int

    /// Limits with the given caps; a sender's share defaults to the whole queue, the total to
    /// ``ServerLimits/maxMailboxBytesTotal``.
    public init(
        maxEnvelopes: Int, maxBytes: Int, maxPayloadBytes: Int = ServerLimits.maxPayloadBytes,
        maxEnvelopesPerSender: Int? = nil, maxBytesPerSender: Int? = nil, maxTotalBytes: Int = ServerLimits.maxMailboxBytesTotal
    ) {
        self.maxEnvelopes = maxEnvelopes
        self.maxBytes = maxBytes
        self.maxPayloadBytes = maxPayloadBytes
        self.maxEnvelopesPerSender = maxEnvelopesPerSender ?? maxEnvelopes
        self.maxBytesPerSender = maxBytesPerSender ?? maxBytes
        self.maxTotalBytes = maxTotalBytes
    }

    /// What the server uses: ``ServerLimits``' mailbox caps (10,000 envelopes and 256 MiB per
    /// recipient, a quarter of that per sender, 11 MiB per payload, 16 GiB in all).
    public static let standard = MailboxLimits(
        maxEnvelopes: ServerLimits.maxEnvelopesPerRecipient, maxBytes: ServerLimits.maxBytesPerRecipient,
        maxPayloadBytes: ServerLimits.maxPayloadBytes,
        maxEnvelopesPerSender: ServerLimits.maxEnvelopesPerSenderPerRecipient,
        maxBytesPerSender: ServerLimits.maxBytesPerSenderPerRecipient,
        maxTotalBytes: ServerLimits.maxMailboxBytesTotal)
}

extension MailboxLimits {
    /// Why a payload of `payloadBytes` may not join a queue that already holds `usage`, of which
    /// `senderUsage` is from its sender, while all mailboxes hold `totalBytes`; or nil when it may.
    /// Every mailbox store applies this one rule inside its transaction, so the adapters cannot
    /// disagree on where the caps are.
    public func refusal(payloadBytes: Int, joining usage: MailboxUsage, fromSender senderUsage: MailboxUsage, totalBytes: Int) -> MailboxRefusal? {
        if payloadBytes > maxPayloadBytes { return .payloadTooLarge(bytes: payloadBytes, limit: maxPayloadBytes) }
        if usage.count >= maxEnvelopes { return .tooManyEnvelopes(limit: maxEnvelopes) }
        if usage.bytes + payloadBytes > maxBytes { return .tooManyBytes(limit: maxBytes) }
        if senderUsage.count >= maxEnvelopesPerSender || senderUsage.bytes + payloadBytes > maxBytesPerSender {
            return .senderShareFull(envelopes: maxEnvelopesPerSender, bytes: maxBytesPerSender)
        }
        if totalBytes + payloadBytes > maxTotalBytes { return .serverFull }
        return nil
    }
}
