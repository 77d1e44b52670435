import Primitives
import Synchronization

/// Gathers concurrent sends into batches so that many envelopes share one transaction and one
/// fsync, while each sender still hears "accepted" only after its envelope is on disk.
///
/// Submissions are appended in call order and committed in that order by one serial writer, so
/// one connection's envelopes keep their order. While a batch is being committed the next one
/// fills up: under load, batches grow by themselves; when idle, a lone send commits at once.
final class EnvelopeBatcher: Sendable {
    typealias Completion = @Sendable (Result<EnqueueOutcome, StoreError>) -> Void

    private struct State {
        var pending: [(draft: MailboxEnvelopeDraft, completion: Completion)] = []
        var flushScheduled = false
    }

    private let store: any MailboxStore
    private let events: any AccountEventBus
    private let writer: BlockingExecutor
    private let maxBatchSize: Int
    private let state = Mutex(State())

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
            guard !state.flushScheduled else { return false }
            state.flushScheduled = true
            return true
        }
        if schedule { writer.submit { self.flush() } }
    }

    /// Returns once every envelope submitted so far is committed and answered.
    func drain() async {
        await writer.drain()
    }

    /// Commits batches until nothing is pending. Runs on the serial writer only.
    private func flush() {
        while true {
            let batch = state.withLock { state -> [(draft: MailboxEnvelopeDraft, completion: Completion)] in
                let taken = Array(state.pending.prefix(maxBatchSize))
                state.pending.removeFirst(taken.count)
                if taken.isEmpty { state.flushScheduled = false }
                return taken
            }
            guard !batch.isEmpty else { return }
            do {
                let outcomes = try store.enqueue(batch.map(\.draft))
                var stored: [Username: [MailboxEnvelope]] = [:]
                for (item, outcome) in zip(batch, outcomes) {
                    if case .accepted(let envelope) = outcome { stored[envelope.recipient, default: []].append(envelope) }
                    item.completion(.success(outcome))
                }
                for (recipient, envelopes) in stored { events.publish(.envelopesStored(envelopes), to: recipient) }
            } catch {
                let failure = (error as? StoreError) ?? .unavailable("\(error)")
                for item in batch { item.completion(.failure(failure)) }
            }
        }
    }
}
