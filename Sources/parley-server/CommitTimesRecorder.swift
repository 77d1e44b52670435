import Foundation
import Primitives
import ServerCore

#if canImport(Glibc)
import Glibc
#endif

/// For benchmarks (`--commit-times-file`): a decorator on the mailbox store that records when each
/// mailbox transaction (``MailboxStore/enqueue(_:)`` and ``MailboxStore/commit(enqueue:acknowledge:)``,
/// the commits that precede a push) started and how long it took, and writes them to a file when
/// the server stops. The benchmark that started the server reads that file and keeps the commits
/// inside its measured window, so it can report the commit-time distribution next to the latency
/// it measured from outside the process.
///
/// Times are `CLOCK_MONOTONIC` nanoseconds, which every process on the machine shares. Nothing
/// about the envelopes (no names, no payloads) is recorded: only times and counts. At most
/// ``capacity`` commits are kept; later ones are counted as dropped.
final class CommitTimesRecorder: Sendable {
    struct Commit: Sendable {
        var startNanoseconds: UInt64
        var durationNanoseconds: UInt64
        var envelopes: Int
        var acknowledgements: Int
    }

    /// The header line of the file: its version and its columns.
    static let header = "# parley-server commit times v1: start_ns duration_ns envelopes acknowledgements (CLOCK_MONOTONIC)"
    /// About 32 MB of records: some 15 minutes at 1,000 commits a second.
    static let capacity = 1_000_000

    let path: String
    private let commits = LockedValue<(kept: [Commit], dropped: Int)>(([], 0))

    /// Creates (or empties) the file at once, so that a path that cannot be written is refused at
    /// start-up rather than lost at shutdown.
    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data((Self.header + "\n").utf8)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        self.path = path
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    func record(startedAt start: UInt64, envelopes: Int, acknowledgements: Int) {
        let end = Self.now()
        let commit = Commit(startNanoseconds: start, durationNanoseconds: end &- start, envelopes: envelopes, acknowledgements: acknowledgements)
        commits.withLock { commits in
            if commits.kept.count < Self.capacity { commits.kept.append(commit) } else { commits.dropped += 1 }
        }
    }

    /// Writes every recorded commit (one line each, after the header), replacing the file.
    func write() throws {
        let (kept, dropped) = commits.withLock { $0 }
        var text = Self.header + "\n"
        if dropped > 0 { text += "# dropped \(dropped)\n" }
        text.reserveCapacity(text.utf8.count + kept.count * 32)
        for commit in kept {
            text += "\(commit.startNanoseconds) \(commit.durationNanoseconds) \(commit.envelopes) \(commit.acknowledgements)\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// `base`, timed.
    func timing(_ base: any MailboxStore) -> any MailboxStore { TimedMailboxStore(base: base, recorder: self) }
}

/// Forwards every call to `base`; times the two that commit envelopes.
private struct TimedMailboxStore: MailboxStore {
    let base: any MailboxStore
    let recorder: CommitTimesRecorder

    func enqueue(_ batch: [MailboxEnvelopeDraft]) throws(StoreError) -> [EnqueueOutcome] {
        let start = CommitTimesRecorder.now()
        defer { recorder.record(startedAt: start, envelopes: batch.count, acknowledgements: 0) }
        return try base.enqueue(batch)
    }

    func commit(enqueue batch: [MailboxEnvelopeDraft], acknowledge acknowledgements: [MailboxAcknowledgement]) throws(StoreError) -> [EnqueueOutcome] {
        let start = CommitTimesRecorder.now()
        defer { recorder.record(startedAt: start, envelopes: batch.count, acknowledgements: acknowledgements.count) }
        return try base.commit(enqueue: batch, acknowledge: acknowledgements)
    }

    func pending(for recipient: Username, after id: UInt64?, limit: Int) throws(StoreError) -> [MailboxEnvelope] {
        try base.pending(for: recipient, after: id, limit: limit)
    }

    func acknowledge(_ ids: [UInt64], for recipient: Username) throws(StoreError) -> Int {
        try base.acknowledge(ids, for: recipient)
    }

    func removeAll(for user: Username) throws(StoreError) { try base.removeAll(for: user) }

    func usage(for recipient: Username) throws(StoreError) -> MailboxUsage { try base.usage(for: recipient) }
}
