/// The bounds of every recipient's mailbox, in one place. A parameter of the mailbox store so
/// that tests can use small caps; the server uses ``standard``.
///
/// Caps exist because the server stores envelopes for offline users: without them one sender could
/// fill the disk by writing to a recipient who never comes online.
public struct MailboxLimits: Sendable, Hashable {
    /// Most envelopes waiting for one recipient.
    public var maxEnvelopes: Int
    /// Most payload bytes waiting for one recipient (the sum of the payloads' lengths).
    public var maxBytes: Int
    /// Largest single payload. The transport's frame limit should be lower; this is the store's own
    /// backstop so that no path can write an unbounded blob.
    public var maxPayloadBytes: Int

    public init(maxEnvelopes: Int, maxBytes: Int, maxPayloadBytes: Int = MailboxLimits.standard.maxPayloadBytes) {
        self.maxEnvelopes = maxEnvelopes
        self.maxBytes = maxBytes
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// 10,000 envelopes or 64 MiB per recipient; 1 MiB per payload (room for an image message).
    public static let standard = MailboxLimits(maxEnvelopes: 10_000, maxBytes: 64 << 20, maxPayloadBytes: 1 << 20)
}

extension MailboxLimits {
    /// Why a payload of `payloadBytes` may not join a queue that already holds `usage`, or nil when
    /// it may. Every mailbox store applies this one rule inside its transaction, so the adapters
    /// cannot disagree on where the caps are.
    public func refusal(payloadBytes: Int, joining usage: MailboxUsage) -> MailboxRefusal? {
        if payloadBytes > maxPayloadBytes { return .payloadTooLarge(bytes: payloadBytes, limit: maxPayloadBytes) }
        if usage.count >= maxEnvelopes { return .tooManyEnvelopes(limit: maxEnvelopes) }
        if usage.bytes + payloadBytes > maxBytes { return .tooManyBytes(limit: maxBytes) }
        return nil
    }
}
