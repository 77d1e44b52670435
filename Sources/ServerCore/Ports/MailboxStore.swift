import Primitives

/// Durable store-and-forward of opaque envelopes for recipients who are offline (or have not yet
/// acknowledged).
///
/// Delivery is at-least-once: an envelope stays until its recipient acknowledges it by id, so a
/// crash between sending and acknowledging redelivers rather than loses. Implemented by
/// `InMemoryMailboxStore`, `SQLiteMailboxStore` and `PostgresMailboxStore`; all pass
/// `MailboxStoreContract` and `MailboxRecipientContract`. Every
/// method is atomic and throws ``StoreError`` only. Caps come from the store's ``MailboxLimits``.
public protocol MailboxStore: Sendable {
    /// Stores a batch of drafts in one transaction and returns one outcome per draft, in order.
    ///
    /// A durable store commits the whole batch with a single sync to disk; the server gathers
    /// concurrent sends into batches so that the sync cost is shared (that is how it reaches tens
    /// of thousands of envelopes a second on two cores). A draft is refused, without affecting
    /// the others, when its payload exceeds ``MailboxLimits/maxPayloadBytes`` or its recipient's
    /// queue would exceed the count or byte cap; the caps are checked inside the same transaction
    /// and accepted drafts earlier in the batch count against later ones. A draft that names its
    /// recipient's identity key (``MailboxEnvelopeDraft/recipientIdentity``) is first checked, in
    /// the same transaction, against the account and block stores of the same backing store:
    /// refused with ``MailboxRefusal/unknownRecipient``, ``MailboxRefusal/recipientIdentityChanged``
    /// or ``MailboxRefusal/blockedByRecipient``, so that what was checked is what the envelope is
    /// stored under (no gap between check and use). Accepted envelopes get ids in batch order per
    /// recipient, each greater than every id handed out before to the same recipient, and a
    /// recipient's ids increase in commit order (so paging with ``pending(for:after:limit:)``
    /// never skips one). Ids of different recipients are not comparable: an adapter may number
    /// each recipient's mailbox on its own, as `PostgresMailboxStore` does; an envelope is named
    /// by (recipient, id).
    /// - Throws: ``StoreError/unavailable(_:)`` when the batch could not be committed; then none of
    ///   it was stored.
    func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome]

    /// Up to `limit` envelopes waiting for `recipient` with an id greater than `id` (all when
    /// `id` is nil), in increasing id order. Empty when `limit` is not positive.
    func pending(for recipient: Username, after id: UInt64?, limit: Int) throws(StoreError) -> [MailboxEnvelope]

    /// Deletes the envelopes with these ids that are addressed to `recipient`, and returns how many
    /// were deleted. Ids of other recipients' envelopes, and unknown ids, are ignored, so a client
    /// cannot delete mail that is not its own.
    func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int

    /// Applies `acknowledgements`, then stores `batch`, all in one transaction (one sync to disk
    /// for a durable store), and returns one outcome per draft, in order.
    ///
    /// Each acknowledgement behaves as ``acknowledge(_:for:)`` and `batch` as ``enqueue(_:)``;
    /// the acknowledgements come first, so the room they free counts for the batch. The server's
    /// serial mailbox writer uses it to fold every acknowledgement waiting when it runs into the
    /// next batch, instead of committing each acknowledgement on its own.
    /// - Throws: ``StoreError/unavailable(_:)`` when the transaction could not be committed; then
    ///   none of it took effect.
    func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome]

    /// Deletes every envelope addressed to `user` (account deletion). Envelopes `user` sent to
    /// others stay: they belong to their recipients.
    func removeAll(for user: Username) throws(StoreError)

    /// How many envelopes, and how many payload bytes, are waiting for `recipient`.
    func usage(for recipient: Username) throws(StoreError) -> MailboxUsage
}

/// A recipient's acknowledgement of envelopes by id, as applied by
/// ``MailboxStore/commit(enqueue:acknowledge:)``.
public struct MailboxAcknowledgement: Sendable, Hashable {
    public let ids: [UInt64]
    public let recipient: Username

    public init(ids: [UInt64], recipient: Username) {
        self.ids = ids
        self.recipient = recipient
    }
}
