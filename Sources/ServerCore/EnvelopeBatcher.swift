import Primitives

/// Gathers concurrent sends into batches so that many envelopes share one transaction and one
/// fsync, while each sender still hears "accepted" only after its envelope is on disk.
///
/// Submissions are appended in call order and committed in that order by one serial writer, so
/// one connection's envelopes keep their order. While a batch is being committed the next one
/// fills up: under load, batches grow by themselves; when idle, a lone send commits at once.
/// Acknowledgements go through the same writer: those taken with a batch (up to
/// `maxBatchSize` items in all, in arrival order) are applied in its transaction (before its
/// envelopes), so they share its fsync instead of each committing on its own. The queue is a
/// ``DrainQueue``: the submission that finds no flush running schedules one on the writer.
final class EnvelopeBatcher: Sendable {
    typealias Completion = @Sendable (Result<EnqueueOutcome, StoreError>) -> Void
    typealias AcknowledgementCompletion = @Sendable (Result<Void, StoreError>) -> Void

    /// One thing for the writer: a draft to store or an acknowledgement to apply.
    private enum Work {
        case draft(MailboxEnvelopeDraft, Completion)
        case acknowledgement(MailboxAcknowledgement, AcknowledgementCompletion)
    }

    private let store: any MailboxStore
    private let events: any AccountEventBus
    private let writer: BlockingExecutor
    private let maxBatchSize: Int
    /// Sends and acknowledgements in arrival order; the drainer is the writer's flush.
    private let queue = LockedValue(DrainQueue<Work>())

    init(store: any MailboxStore, events: any AccountEventBus, writer: BlockingExecutor, maxBatchSize: Int) {
        self.store = store
        self.events = events
        self.writer = writer
        self.maxBatchSize = maxBatchSize
    }

    /// Queues `draft`; `completion` runs on the writer once the batch holding it has committed
    /// (or failed, in which case nothing of that batch was stored).
    func submit(_ draft: MailboxEnvelopeDraft, completion: @escaping Completion) {
        if queue.withLock({ $0.append(.draft(draft, completion)) }) { writer.submit { self.flush() } }
    }

    /// Queues `recipient`'s acknowledgement of `ids`; `completion` runs on the writer once the
    /// transaction that deleted them has committed (or failed, in which case nothing was deleted).
    func acknowledge(_ ids: [UInt64], for recipient: Username, completion: @escaping AcknowledgementCompletion) {
        let acknowledgement = MailboxAcknowledgement(ids: ids, recipient: recipient)
        if queue.withLock({ $0.append(.acknowledgement(acknowledgement, completion)) }) { writer.submit { self.flush() } }
    }

    /// Queues `recipient`'s acknowledgement of `ids` and returns once it is committed.
    func acknowledge(_ ids: [UInt64], for recipient: Username) async throws(StoreError) {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, StoreError>, Never>) in
            acknowledge(ids, for: recipient) { continuation.resume(returning: $0) }
        }
        try result.get()
    }

    /// Returns once every envelope submitted so far is committed and answered.
    func drain() async {
        await writer.drain()
    }

    /// Commits batches until nothing is pending. Runs on the serial writer only.
    private func flush() {
        while true {
            // Up to maxBatchSize items a transaction (acknowledgements count too; each is one
            // request's ids), in arrival order; an empty take ends this drain.
            let work = queue.withLock { $0.take(upTo: maxBatchSize) }
            guard !work.isEmpty else { return }
            var batch: [(draft: MailboxEnvelopeDraft, completion: Completion)] = []
            var acknowledgements: [(acknowledgement: MailboxAcknowledgement, completion: AcknowledgementCompletion)] = []
            batch.reserveCapacity(work.count)
            for item in work {
                switch item {
                case .draft(let draft, let completion): batch.append((draft, completion))
                case .acknowledgement(let acknowledgement, let completion): acknowledgements.append((acknowledgement, completion))
                }
            }
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
