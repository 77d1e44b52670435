import Conversations
import Envelope
import Primitives
import Testing

/// Makes a fresh, empty ``HistoryStore``.
public typealias HistoryStoreFactory = @Sendable () throws -> any HistoryStore

/// The behaviour every ``HistoryStore`` adapter must have: a re-delivered message is shown once,
/// order is insertion order, statuses only rise and only for sent messages.
public enum HistoryStoreContract {
    public static let checks: [ContractCheck<HistoryStoreFactory>] = [
        ContractCheck("a new store has no history") { make in
            let store = try make()
            #expect(try store.entries(with: user("bob"), limit: 10) == [])
            #expect(try store.removeConversation(with: user("bob")) == [])
        },
        ContractCheck("every field of text and image entries comes back") { make in
            let store = try make()
            let bob = try user("bob")
            let text = try entry(1, peer: bob, direction: .received, body: .text("héllo 👋"), status: .read, isRequest: true)
            let image = try entry(2, peer: bob, direction: .sent, body: .image(sealedImage(2), width: 640, height: 480), status: .delivered)
            #expect(try store.append(text))
            #expect(try store.append(image))
            #expect(try store.entries(with: bob, limit: 10) == [text, image])
        },
        ContractCheck("a re-delivered message id is refused and shown once, the first copy kept") { make in
            let store = try make()
            let bob = try user("bob")
            let first = try entry(1, peer: bob, body: .text("original"))
            #expect(try store.append(first))
            #expect(try store.append(first) == false)
            #expect(try store.append(entry(1, peer: bob, body: .text("replayed"), sentAt: 99)) == false)
            #expect(try store.entries(with: bob, limit: 10) == [first])
        },
        ContractCheck("dedupe is by message id alone, whichever conversation the copy claims") { make in
            let store = try make()
            let (bob, carol) = (try user("bob"), try user("carol"))
            #expect(try store.append(entry(1, peer: bob)))
            #expect(try store.append(entry(1, peer: carol)) == false)
            #expect(try store.entries(with: carol, limit: 10) == [])
        },
        ContractCheck("entries come oldest first in the order they were stored, not by their clocks") { make in
            let store = try make()
            let bob = try user("bob")
            // The sender's clock runs backwards; display order is still arrival order.
            let entries = try (1...5).map { try entry(UInt8($0), peer: bob, sentAt: Int64(100 - $0)) }
            for item in entries { try store.append(item) }
            #expect(try store.entries(with: bob, limit: 10) == entries)
        },
        ContractCheck("a limit returns the latest entries, oldest first; zero or less returns none") { make in
            let store = try make()
            let bob = try user("bob")
            let entries = try (1...30).map { try entry(UInt8($0), peer: bob) }
            for item in entries { try store.append(item) }
            #expect(try store.entries(with: bob, limit: 5) == Array(entries.suffix(5)))
            #expect(try store.entries(with: bob, limit: 1) == [entries[29]])
            #expect(try store.entries(with: bob, limit: 100) == entries)
            #expect(try store.entries(with: bob, limit: 0) == [])
            #expect(try store.entries(with: bob, limit: -3) == [])
        },
        ContractCheck("conversations are kept apart, interleaved as they arrive") { make in
            let store = try make()
            let (bob, carol) = (try user("bob"), try user("carol"))
            var expected: [Username: [HistoryEntry]] = [:]
            for index in 1...40 {
                let peer = index % 3 == 0 ? carol : bob
                let item = try entry(UInt8(index), peer: peer)
                try store.append(item)
                expected[peer, default: []].append(item)
            }
            #expect(try store.entries(with: bob, limit: 100) == expected[bob])
            #expect(try store.entries(with: carol, limit: 4) == Array(expected[carol, default: []].suffix(4)))
        },
        ContractCheck("raising a status moves sent messages forward only, never received ones") { make in
            let store = try make()
            let bob = try user("bob")
            let sent = try entry(1, peer: bob, direction: .sent, status: .sent)
            let alreadyRead = try entry(2, peer: bob, direction: .sent, status: .read)
            let received = try entry(3, peer: bob, direction: .received, status: .sent)
            for item in [sent, alreadyRead, received] { try store.append(item) }
            let unknown = try messageID(99)
            try store.raiseStatus(of: [sent.id, alreadyRead.id, received.id, unknown], to: .delivered)
            var statuses = try store.entries(with: bob, limit: 10).map(\.status)
            #expect(statuses == [.delivered, .read, .sent])
            try store.raiseStatus(of: [sent.id], to: .sent)
            statuses = try store.entries(with: bob, limit: 10).map(\.status)
            #expect(statuses == [.delivered, .read, .sent])
            try store.raiseStatus(of: [sent.id, sent.id], to: .read)
            #expect(try store.entries(with: bob, limit: 10).first?.status == .read)
            try store.raiseStatus(of: [], to: .read)
        },
        ContractCheck("accepting a peer clears the request flag on their entries only") { make in
            let store = try make()
            let (bob, carol) = (try user("bob"), try user("carol"))
            try store.append(entry(1, peer: bob, direction: .received, isRequest: true))
            try store.append(entry(2, peer: carol, direction: .received, isRequest: true))
            try store.append(entry(3, peer: bob, direction: .received, isRequest: true))
            try store.clearRequestFlag(for: bob)
            #expect(try store.entries(with: bob, limit: 10).map(\.isRequest) == [false, false])
            #expect(try store.entries(with: carol, limit: 10).map(\.isRequest) == [true])
            // The rest of each entry is unchanged.
            #expect(try store.entries(with: bob, limit: 10).map(\.id) == [messageID(1), messageID(3)])
        },
        ContractCheck("removing a conversation returns its sealed images in order and leaves others") { make in
            let store = try make()
            let (bob, carol) = (try user("bob"), try user("carol"))
            try store.append(entry(1, peer: bob, body: .image(sealedImage(1), width: 1, height: 1)))
            try store.append(entry(2, peer: bob, body: .text("between")))
            try store.append(entry(3, peer: carol, body: .image(sealedImage(3), width: 1, height: 1)))
            try store.append(entry(4, peer: bob, direction: .received, body: .image(sealedImage(4), width: 2, height: 2)))
            #expect(try store.removeConversation(with: bob) == [sealedImage(1), sealedImage(4)])
            #expect(try store.entries(with: bob, limit: 10) == [])
            #expect(try store.entries(with: carol, limit: 10).count == 1)
            #expect(try store.removeConversation(with: bob) == [])
            // Its ids are forgotten with it: the same message can be stored again.
            #expect(try store.append(entry(2, peer: bob)))
        },
    ]

    /// A message id whose every byte is `seed`.
    /// A sealed-image reference whose id and key are made from `seed` (distinct per seed).
    public static func sealedImage(_ seed: UInt8) throws -> SealedImageReference {
        SealedImageReference(
            blobID: try ImageBlobID(bytes: [UInt8](repeating: seed, count: ImageBlobID.byteCount)),
            fileKey: try SymmetricKey(SecretBytes(copying: [UInt8](repeating: seed &+ 100, count: SymmetricKey.byteCount))))
    }

    public static func messageID(_ seed: UInt8) throws -> MessageID {
        try MessageID(bytes: [UInt8](repeating: seed, count: MessageID.byteCount))
    }

    /// A history entry with id `messageID(seed)` and plausible defaults for every other field.
    public static func entry(
        _ seed: UInt8, peer: Username, direction: HistoryEntry.Direction = .sent, body: HistoryEntry.Body? = nil,
        sentAt: Int64 = 1_700_000_000_000, status: HistoryEntry.Status = .sent, isRequest: Bool = false
    ) throws -> HistoryEntry {
        HistoryEntry(
            id: try messageID(seed), peer: peer, direction: direction, body: body ?? .text("message \(seed)"),
            sentAt: Timestamp(millisecondsSinceEpoch: sentAt), receivedAt: Timestamp(millisecondsSinceEpoch: sentAt + Int64(seed)),
            status: status, isRequest: isRequest)
    }
}
