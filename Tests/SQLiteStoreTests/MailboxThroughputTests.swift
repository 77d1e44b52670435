import Foundation
import Primitives
import SQLiteStore
import ServerCore
import Testing

/// How fast batched enqueue runs on this machine's disk. Opt-in (`PARLEY_BENCH=1 swift test
/// --filter MailboxThroughput`) because its numbers depend on the disk, not on the code's
/// correctness; it prints the rate and only asserts that every envelope landed.
@Suite("Mailbox throughput", .serialized, .enabled(if: ProcessInfo.processInfo.environment["PARLEY_BENCH"] != nil))
struct MailboxThroughputTests {
    @Test(arguments: [1, 100, 500])
    func batchedEnqueue(batchSize: Int) throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteServerStore(path: directory.file("bench.sqlite"), mailboxLimits: MailboxLimits(maxEnvelopes: 1_000_000, maxBytes: 1 << 40))
        let recipients = try (0..<100).map { try Username("user\($0)") }
        let sender = try Username("sender")
        let payload = [UInt8](repeating: 0xa5, count: 256)
        let total = batchSize == 1 ? 2_000 : 30_000
        let clock = ContinuousClock()
        var accepted = 0
        let elapsed = try clock.measure {
            var sent = 0
            while sent < total {
                let batch = (sent..<min(sent + batchSize, total)).map { index in
                    MailboxEnvelopeDraft(
                        sender: sender, recipient: recipients[index % recipients.count], payload: payload,
                        acceptedAt: Timestamp(millisecondsSinceEpoch: Int64(index)))
                }
                accepted += try store.mailbox.enqueue(batch).filter { if case .accepted = $0 { true } else { false } }.count
                sent += batch.count
            }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("batch \(batchSize): \(total) envelopes in \(String(format: "%.2f", seconds)) s = \(Int(Double(total) / seconds)) envelopes/s")
        #expect(accepted == total)
    }
}
