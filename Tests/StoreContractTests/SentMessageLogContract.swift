import ClientCore
import Envelope
import Primitives
import Testing

/// Makes a fresh, empty ``SentMessageLog`` with the given bounds.
public typealias SentMessageLogFactory = @Sendable (SentLogLimits) throws -> any SentMessageLog

/// The behaviour every ``SentMessageLog`` adapter must have: an entry is found by the envelope
/// that last carried it, replaced by message id on a resend, forgotten on a receipt, and the log
/// stays within its age, count and byte bounds, oldest first.
public enum SentMessageLogContract {
    static let roomy = SentLogLimits(maxEntries: 100, maxBytes: 1 << 20, maxAge: .seconds(3600))
    static let start = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)

    public static let checks: [ContractCheck<SentMessageLogFactory>] = [
        ContractCheck("a new log is empty") { make in
            let log = try make(roomy)
            #expect(try log.count() == 0)
            #expect(try log.message(to: user("bob"), envelopeID: 1) == nil)
            try log.remove(messageIDs: [HistoryStoreContract.messageID(1)])
        },
        ContractCheck("an entry comes back whole, found only by its peer and envelope id") { make in
            let log = try make(roomy)
            let (bob, carol) = (try user("bob"), try user("carol"))
            let sent = try message(1, to: bob, envelopeID: 41, body: .text("héllo"))
            try log.record(sent, now: start)
            #expect(try log.message(to: bob, envelopeID: 41) == sent)
            #expect(try log.message(to: carol, envelopeID: 41) == nil)
            #expect(try log.message(to: bob, envelopeID: 42) == nil)
            #expect(try log.count() == 1)
        },
        ContractCheck("an image entry keeps its bytes") { make in
            let log = try make(roomy)
            let bob = try user("bob")
            let image = MessageContent.ImageAttachment(png: Array(0..<200), fileName: "a b.png", width: 3, height: 4)
            let sent = try message(2, to: bob, envelopeID: 7, body: .image(image))
            try log.record(sent, now: start)
            #expect(try log.message(to: bob, envelopeID: 7) == sent)
        },
        ContractCheck("recording the same message again (a resend) replaces it under its new envelope id") { make in
            let log = try make(roomy)
            let bob = try user("bob")
            var sent = try message(1, to: bob, envelopeID: 41)
            try log.record(sent, now: start)
            sent.envelopeID = 90
            sent.resends = 1
            try log.record(sent, now: start)
            #expect(try log.message(to: bob, envelopeID: 41) == nil)
            #expect(try log.message(to: bob, envelopeID: 90) == sent)
            #expect(try log.count() == 1)
        },
        ContractCheck("entries marked for a resend are listed, oldest first, until the mark is cleared") { make in
            let log = try make(roomy)
            let bob = try user("bob")
            for seed in UInt8(1)...4 { try log.record(try message(seed, to: bob, envelopeID: UInt64(seed)), now: start) }
            #expect(try log.pendingResends() == [])
            for envelopeID in [UInt64(3), 1] {
                var marked = try #require(try log.message(to: bob, envelopeID: envelopeID))
                marked.resendPending = true
                try log.record(marked, now: start)
            }
            #expect(try log.pendingResends().map(\.envelopeID) == [3, 1])
            var resent = try #require(try log.message(to: bob, envelopeID: 3))
            resent.resendPending = false
            resent.envelopeID = 30
            resent.resends = 1
            try log.record(resent, now: start)
            #expect(try log.pendingResends().map(\.envelopeID) == [1])
            #expect(try log.message(to: bob, envelopeID: 30) == resent)
        },
        ContractCheck("removing by message id forgets those entries only") { make in
            let log = try make(roomy)
            let bob = try user("bob")
            for seed in UInt8(1)...3 { try log.record(try message(seed, to: bob, envelopeID: UInt64(seed)), now: start) }
            try log.remove(messageIDs: [HistoryStoreContract.messageID(1), HistoryStoreContract.messageID(3), HistoryStoreContract.messageID(9)])
            #expect(try log.count() == 1)
            #expect(try log.message(to: bob, envelopeID: 1) == nil)
            #expect(try log.message(to: bob, envelopeID: 2) != nil)
        },
        ContractCheck("entries older than the maximum age are forgotten when another is recorded") { make in
            let log = try make(roomy)
            let bob = try user("bob")
            try log.record(try message(1, to: bob, envelopeID: 1, loggedAt: start), now: start)
            try log.record(try message(2, to: bob, envelopeID: 2, loggedAt: start.adding(.seconds(1800))), now: start.adding(.seconds(1800)))
            let later = start.adding(.seconds(3601))
            try log.record(try message(3, to: bob, envelopeID: 3, loggedAt: later), now: later)
            #expect(try log.message(to: bob, envelopeID: 1) == nil)
            #expect(try log.message(to: bob, envelopeID: 2) != nil)
            #expect(try log.count() == 2)
        },
        ContractCheck("beyond the entry bound the oldest entries go first") { make in
            let log = try make(SentLogLimits(maxEntries: 3, maxBytes: 1 << 20, maxAge: .seconds(3600)))
            let bob = try user("bob")
            for seed in UInt8(1)...5 { try log.record(try message(seed, to: bob, envelopeID: UInt64(seed)), now: start) }
            #expect(try log.count() == 3)
            #expect(try log.message(to: bob, envelopeID: 2) == nil)
            #expect(try log.message(to: bob, envelopeID: 3) != nil)
            #expect(try log.message(to: bob, envelopeID: 5) != nil)
        },
        ContractCheck("beyond the byte bound the oldest entries go first, but the newest is always kept") { make in
            let log = try make(SentLogLimits(maxEntries: 100, maxBytes: 3000, maxAge: .seconds(3600)))
            let bob = try user("bob")
            let big = String(repeating: "x", count: 1200)
            for seed in UInt8(1)...4 { try log.record(try message(seed, to: bob, envelopeID: UInt64(seed), body: .text(big)), now: start) }
            #expect(try log.count() == 2)
            #expect(try log.message(to: bob, envelopeID: 4) != nil)
            #expect(try log.message(to: bob, envelopeID: 3) != nil)
            let huge = String(repeating: "y", count: 5000)
            try log.record(try message(5, to: bob, envelopeID: 5, body: .text(huge)), now: start)
            #expect(try log.count() == 1)
            #expect(try log.message(to: bob, envelopeID: 5) != nil)
        },
    ]

    static func message(
        _ seed: UInt8, to peer: Username, envelopeID: UInt64, body: MessageContent.Body? = nil, loggedAt: Timestamp = start
    ) throws -> SentMessage {
        SentMessage(
            peer: peer,
            content: MessageContent(id: try HistoryStoreContract.messageID(seed), sentAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(seed)), body: body ?? .text("message \(seed)")),
            envelopeID: envelopeID, acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_500 + Int64(seed)), loggedAt: loggedAt)
    }
}
