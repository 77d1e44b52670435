import Primitives
import ServerCore

/// ``MailboxStore`` in memory, held to the same contract suite as `SQLiteMailboxStore`: the same
/// caps, the same id rules (strictly increasing per recipient, never reused; drawn, as SQLite's,
/// from one counter for all recipients, which the port allows), the same batch semantics.
/// Thread-safe: each call runs under one lock, which stands in for the database transaction.
/// Nothing survives the process, so it is for tests and demos only.
public final class InMemoryMailboxStore: MailboxStore {
    fileprivate struct State {
        /// Per recipient, in increasing id order (appends only ever add larger ids).
        var queues: [Username: [MailboxEnvelope]] = [:]
        var usage: [Username: MailboxUsage] = [:]
        /// What each sender has waiting in each recipient's queue.
        var senderUsage: [SenderQueue: MailboxUsage] = [:]
        /// Payload bytes waiting in all queues.
        var totalBytes = 0
        /// The last id handed out; ids start at 1, as SQLite's AUTOINCREMENT does.
        var lastID: UInt64 = 0
    }

    fileprivate struct SenderQueue: Hashable {
        let recipient: Username
        let sender: Username
    }

    private let state = LockedValue(State())
    /// The caps every recipient's queue is held to.
    public let limits: MailboxLimits
    /// Where drafts that name their recipient's identity key are checked; without them no account
    /// exists, so such drafts are refused as ``MailboxRefusal/unknownRecipient``.
    private let accounts: InMemoryAccountStore?
    private let blocks: InMemoryBlockStore?

    /// - Parameters:
    ///   - accounts, blocks: the stores of the same "backing store", for the recipient check of
    ///     drafts that name an identity key (the server's sends). A batch runs under the account
    ///     store's lock, then this store's, as ``InMemoryAccountDeletionStore`` takes them, so an
    ///     account cannot be deleted between its check and its envelope's insertion.
    public init(limits: MailboxLimits = .standard, accounts: InMemoryAccountStore? = nil, blocks: InMemoryBlockStore? = nil) {
        self.limits = limits
        self.accounts = accounts
        self.blocks = blocks
    }

    public func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome] {
        try commit(enqueue: batch, acknowledge: [])
    }

    public func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        let apply = { (identityKeys: (Username) -> Ed25519PublicKey?) -> [EnqueueOutcome] in
            self.state.withLock { state in
                for acknowledgement in acknowledgements {
                    _ = Self.acknowledge(Set(acknowledgement.ids), for: acknowledgement.recipient, in: &state)
                }
                return Self.enqueue(batch, into: &state, limits: self.limits) { draft in
                    guard let identity = draft.recipientIdentity else { return nil }
                    guard let key = identityKeys(draft.recipient) else { return .unknownRecipient }
                    guard key == identity else { return .recipientIdentityChanged }
                    let blocked = (try? self.blocks?.isBlocked(sender: draft.sender, by: draft.recipient)) ?? false
                    return blocked == true ? .blockedByRecipient : nil
                }
            }
        }
        guard let accounts, batch.contains(where: { $0.recipientIdentity != nil }) else { return apply { _ in nil } }
        return accounts.withIdentityKeys(apply)
    }

    private static func enqueue(
        _ batch: [MailboxEnvelopeDraft], into state: inout State, limits: MailboxLimits, recipientRefusal: (MailboxEnvelopeDraft) -> MailboxRefusal?
    ) -> [EnqueueOutcome] {
        batch.map { draft in
            if let refusal = recipientRefusal(draft) { return .refused(refusal) }
            let usage = state.usage[draft.recipient] ?? .empty
            let queue = SenderQueue(recipient: draft.recipient, sender: draft.sender)
            let senderUsage = state.senderUsage[queue] ?? .empty
            if let refusal = limits.refusal(
                payloadBytes: draft.payload.count, joining: usage, fromSender: senderUsage, totalBytes: state.totalBytes) {
                return .refused(refusal)
            }
            state.lastID += 1
            let envelope = MailboxEnvelope(id: state.lastID, draft: draft)
            state.queues[draft.recipient, default: []].append(envelope)
            state.usage[draft.recipient] = MailboxUsage(count: usage.count + 1, bytes: usage.bytes + draft.payload.count)
            state.senderUsage[queue] = MailboxUsage(count: senderUsage.count + 1, bytes: senderUsage.bytes + draft.payload.count)
            state.totalBytes += draft.payload.count
            return .accepted(envelope)
        }
    }

    public func pending(for recipient: Username, after id: UInt64?, limit: Int) throws(StoreError) -> [MailboxEnvelope] {
        guard limit > 0 else { return [] }
        return state.withLock { state in
            let queue = state.queues[recipient] ?? []
            let start = id.map { after in queue.firstIndex { $0.id > after } ?? queue.endIndex } ?? queue.startIndex
            return Array(queue[start...].prefix(limit))
        }
    }

    public func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int {
        let wanted = Set(ids)
        return state.withLock { state in Self.acknowledge(wanted, for: recipient, in: &state) }
    }

    private static func acknowledge(_ wanted: Set<UInt64>, for recipient: Username, in state: inout State) -> Int {
        guard let queue = state.queues[recipient] else { return 0 }
        let kept = queue.filter { !wanted.contains($0.id) }
        for envelope in queue where wanted.contains(envelope.id) { state.forget(envelope) }
        state.queues[recipient] = kept.isEmpty ? nil : kept
        state.usage[recipient] = kept.isEmpty ? nil : MailboxUsage(count: kept.count, bytes: kept.reduce(0) { $0 + $1.payload.count })
        return queue.count - kept.count
    }

    public func removeAll(for user: Username) throws(StoreError) {
        state.withLock { state in
            for envelope in state.queues[user] ?? [] { state.forget(envelope) }
            state.queues[user] = nil
            state.usage[user] = nil
        }
    }

    public func usage(for recipient: Username) throws(StoreError) -> MailboxUsage {
        state.withLock { $0.usage[recipient] ?? .empty }
    }
}

extension InMemoryMailboxStore.State {
    /// Takes a deleted envelope out of the sender's share and the total (the recipient's usage is
    /// recomputed by the caller).
    fileprivate mutating func forget(_ envelope: MailboxEnvelope) {
        let queue = InMemoryMailboxStore.SenderQueue(recipient: envelope.recipient, sender: envelope.sender)
        if let usage = senderUsage[queue] {
            let left = MailboxUsage(count: usage.count - 1, bytes: usage.bytes - envelope.payload.count)
            senderUsage[queue] = left.count <= 0 ? nil : left
        }
        totalBytes -= envelope.payload.count
    }
}
