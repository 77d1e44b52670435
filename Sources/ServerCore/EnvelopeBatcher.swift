import Primitives

/// Gathers concurrent sends into batches so that many envelopes share one transaction and one
/// fsync, while each sender still hears "accepted" only after its envelope is on disk.
///
/// Submissions are appended in call order and committed in that order by one serial writer, so
/// one connection's envelopes keep their order. While a batch is being committed the next one
/// fills up: under load, batches grow by themselves; when idle, a lone send commits at once.
/// Acknowledgements go through the same writer: every acknowledgement waiting when a batch is
/// taken is applied in that batch's transaction (before its envelopes), so they share its fsync
/// instead of each committing on its own.
final class EnvelopeBatcher: Sendable {
    typealias Completion = @Sendable (Result<EnqueueOutcome, StoreError>) -> Void
    typealias AcknowledgementCompletion = @Sendable (Result<Void, StoreError>) -> Void

    private struct State {
        var pending: [(draft: MailboxEnvelopeDraft, completion: Completion)] = []
        var acknowledgements: [(acknowledgement: MailboxAcknowledgement, completion: AcknowledgementCompletion)] = []
        var flushScheduled = false
    }

    private let store: any MailboxStore
    private let events: any AccountEventBus
    private let writer: BlockingExecutor
    private let maxBatchSize: Int
    private let state = LockedValue(State())

    init(store: any MailboxStore, events: any AccountEventBus, writer: BlockingExecutor, maxBatchSize: Int) {
        self.store = store
        self.events = events
        self.writer = writer
        self.maxBatchSize = maxBatchSize
    }

    /// Queues `draft`; `completion` runs on the writer once the batch holding it has committed
    /// (or failed, in which case nothing of that batch was stored).
    func submit(_ draft: MailboxEnvelopeDraft, completion: @escaping Completion) {
        let schedule = state.withLock { state -> Bool in
            state.pending.append((draft, completion))
            return Self.claimFlush(&state)
        }
        if schedule { writer.submit { self.flush() } }
    }

    /// Queues `recipient`'s acknowledgement of `ids`; `completion` runs on the writer once the
    /// transaction that deleted them has committed (or failed, in which case nothing was deleted).
    func acknowledge(_ ids: [UInt64], for recipient: Username, completion: @escaping AcknowledgementCompletion) {
        let schedule = state.withLock { state -> Bool in
            state.acknowledgements.append((MailboxAcknowledgement(ids: ids, recipient: recipient), completion))
            return Self.claimFlush(&state)
        }
        if schedule { writer.submit { self.flush() } }
    }

    /// Queues `recipient`'s acknowledgement of `ids` and returns once it is committed.
    func acknowledge(_ ids: [UInt64], for recipient: Username) async throws(StoreError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StoreError>, Never>) in
            acknowledge(ids, for: recipient) { continuation.resume(returning: $0) }
        }
        try result.get()
    }

    private static func claimFlush(_ state: inout State) -> Bool {
        guard !state.flushScheduled else { return false }
        state.flushScheduled = true
        return true
    }

    /// Returns once every envelope submitted so far is committed and answered.
    func drain() async {
        await writer.drain()
    }

    /// Commits batches until nothing is pending. Runs on the serial writer only.
    private func flush() {
        while true {
            let (batch, acknowledgements) = state.withLock { state in
                let taken = Array(state.pending.prefix(maxBatchSize))
                state.pending.removeFirst(taken.count)
                let acknowledgements = state.acknowledgements
                state.acknowledgements = []
                if taken.isEmpty && acknowledgements.isEmpty { state.flushScheduled = false }
                return (taken, acknowledgements)
            }
            guard !batch.isEmpty || !acknowledgements.isEmpty else { return }
            do {
                let outcomes = try store.commit(enqueue: batch.map(\.draft), acknowledge: acknowledgements.map(\.acknowledgement))
                for item in acknowledgements { item.completion(.success(())) }
                var stored: [Username: [MailboxEnvelope]] = [:]
                for (item, outcome) in zip(batch, outcomes) {
                    if case .accepted(let envelope) = outcome { stored[envelope.recipient, default: []].append(envelope) }
                    item.completion(.success(outcome))
                }
                for (recipient, envelopes) in stored { events.publish(.envelopesStored(envelopes), to: recipient) }
            } catch {
                let failure = (error as? StoreError) ?? .unavailable("\(error)")
                for item in acknowledgements { item.completion(.failure(failure)) }
                for item in batch { item.completion(.failure(failure)) }
            }
        }
    }
}
