import Primitives
import ServerCore
import Testing

/// Makes a fresh, empty ``MailboxStore`` held to `limits`.
public typealias MailboxStoreFactory = @Sendable (MailboxLimits) throws -> any MailboxStore

/// The behaviour every ``MailboxStore`` adapter must have: batches, caps checked inside the
/// transaction, a stable id cursor per recipient, and deletion only by the recipient.
///
/// Ids are the port's: strictly increasing per recipient in commit order and never reused; an
/// envelope is named by (recipient, id). Ids of different recipients are not compared: the
/// PostgreSQL mailbox numbers each recipient's queue on its own (1, 2, 3, ...), the in-memory and
/// SQLite ones draw from one counter.
public enum MailboxStoreContract {
    /// Roomy enough that no check hits a cap it is not about.
    static let roomy = MailboxLimits(maxEnvelopes: 1_000, maxBytes: 1 << 20, maxPayloadBytes: 64 << 10)

    public static let checks: [ContractCheck<MailboxStoreFactory>] = [
        ContractCheck("a batch is accepted in order with ids increasing per recipient and every field kept") { make in
            let store = try make(roomy)
            let batch = try [
                draft("alice", "bob", [1, 2, 3], at: 1_000),
                draft("carol", "bob", [], at: 1_001),
                draft("alice", "carol", [UInt8](repeating: 0xab, count: 4096), at: 1_002),
            ]
            let accepted = try store.enqueue(batch).map { outcome in try #require(outcome.accepted) }
            #expect(accepted.count == 3)
            #expect(zip(accepted, batch).allSatisfy { envelope, draft in MailboxEnvelope(id: envelope.id, draft: draft) == envelope })
            #expect(accepted[0].id < accepted[1].id, "bob's two envelopes, in batch order")
            #expect(try store.pending(for: user("bob"), after: nil, limit: 10) == Array(accepted[0...1]))
            #expect(try store.pending(for: user("carol"), after: nil, limit: 10) == [accepted[2]])
            #expect(try store.usage(for: user("bob")) == MailboxUsage(count: 2, bytes: 3))
            #expect(try store.enqueue([]) == [])
        },
        ContractCheck("pending is in id order across batches, which keeps each sender's order") { make in
            let store = try make(roomy)
            var sent: [MailboxEnvelope] = []
            for round in 0..<5 {
                let outcomes = try store.enqueue([
                    draft("alice", "bob", [UInt8(round), 0]),
                    draft("carol", "bob", [UInt8(round), 1]),
                ])
                sent += outcomes.compactMap(\.accepted)
            }
            let pending = try store.pending(for: user("bob"), after: nil, limit: 100)
            #expect(pending == sent)
            #expect(pending.filter { $0.sender.value == "alice" }.map { $0.payload[0] } == [0, 1, 2, 3, 4])
        },
        ContractCheck("each recipient's ids increase across batches whatever the other recipients get") { make in
            let store = try make(roomy)
            var sent: [MailboxEnvelope] = []
            for round in 0..<6 {
                let recipients = round.isMultiple(of: 2) ? ["bob", "carol", "bob"] : ["carol", "dave"]
                sent += try store.enqueue(recipients.map { try draft("alice", $0, [UInt8(round)]) }).compactMap(\.accepted)
            }
            #expect(sent.count == 15)
            for name in ["bob", "carol", "dave"] {
                let mine = sent.filter { $0.recipient.value == name }
                #expect(zip(mine, mine.dropFirst()).allSatisfy { $0.id < $1.id }, "\(name)'s ids increase in commit order")
                #expect(try store.pending(for: user(name), after: nil, limit: 100) == mine)
                // Paging after each id returns exactly the rest of this recipient's queue.
                for (index, envelope) in mine.enumerated() {
                    #expect(try store.pending(for: user(name), after: envelope.id, limit: 100) == Array(mine[(index + 1)...]))
                }
            }
        },
        ContractCheck("pending after an id pages through the queue") { make in
            let store = try make(roomy)
            let sent = try store.enqueue((0..<5).map { try draft("alice", "bob", [$0]) }).compactMap(\.accepted)
            let bob = try user("bob")
            #expect(try store.pending(for: bob, after: nil, limit: 2) == Array(sent[0..<2]))
            #expect(try store.pending(for: bob, after: sent[1].id, limit: 2) == Array(sent[2..<4]))
            #expect(try store.pending(for: bob, after: sent[3].id, limit: 2) == [sent[4]])
            #expect(try store.pending(for: bob, after: sent[4].id, limit: 2) == [])
            #expect(try store.pending(for: bob, after: 0, limit: 10) == sent)
            #expect(try store.pending(for: bob, after: .max, limit: 10) == [])
            #expect(try store.pending(for: bob, after: nil, limit: 0) == [])
            #expect(try store.pending(for: bob, after: nil, limit: -1) == [])
            #expect(try store.pending(for: user("nobody"), after: nil, limit: 10) == [])
        },
        ContractCheck("the count cap refuses the excess of a batch and spares other recipients") { make in
            let store = try make(MailboxLimits(maxEnvelopes: 3, maxBytes: 1 << 20, maxPayloadBytes: 1024))
            _ = try store.enqueue([draft("alice", "bob", [0])])
            let outcomes = try store.enqueue([
                draft("alice", "bob", [1]),
                draft("alice", "bob", [2]),
                draft("alice", "bob", [3]),
                draft("alice", "carol", [4]),
                draft("alice", "bob", [5]),
            ])
            #expect(outcomes.map(\.accepted).map { $0 != nil } == [true, true, false, true, false])
            #expect(outcomes[2] == .refused(.tooManyEnvelopes(limit: 3)))
            #expect(outcomes[4] == .refused(.tooManyEnvelopes(limit: 3)))
            #expect(try store.usage(for: user("bob")) == MailboxUsage(count: 3, bytes: 3))
            #expect(try store.pending(for: user("bob"), after: nil, limit: 10).map(\.payload) == [[0], [1], [2]])
            #expect(try store.usage(for: user("carol")) == MailboxUsage(count: 1, bytes: 1))
        },
        ContractCheck("the byte cap refuses what would overflow; refused drafts take no room") { make in
            let store = try make(MailboxLimits(maxEnvelopes: 100, maxBytes: 100, maxPayloadBytes: 100))
            let outcomes = try store.enqueue([
                draft("alice", "bob", bytes(40)),
                draft("alice", "bob", bytes(40)),
                draft("alice", "bob", bytes(40)),
                draft("alice", "carol", bytes(90)),
                draft("alice", "bob", bytes(20)),
                draft("alice", "bob", bytes(1)),
            ])
            #expect(outcomes.map(\.accepted).map { $0 != nil } == [true, true, false, true, true, false])
            #expect(outcomes[2] == .refused(.tooManyBytes(limit: 100)))
            #expect(try store.usage(for: user("bob")) == MailboxUsage(count: 3, bytes: 100))
            #expect(try store.usage(for: user("carol")) == MailboxUsage(count: 1, bytes: 90))
        },
        ContractCheck("a payload over the per-envelope bound is refused on its own") { make in
            let store = try make(MailboxLimits(maxEnvelopes: 10, maxBytes: 1 << 20, maxPayloadBytes: 64))
            let outcomes = try store.enqueue([draft("alice", "bob", bytes(65)), draft("alice", "bob", bytes(64))])
            #expect(outcomes[0] == .refused(.payloadTooLarge(bytes: 65, limit: 64)))
            #expect(outcomes[1].accepted != nil)
        },
        ContractCheck("a sender's share of a recipient's queue is capped; other senders still get in") { make in
            let store = try make(MailboxLimits(maxEnvelopes: 10, maxBytes: 1 << 20, maxPayloadBytes: 1024, maxEnvelopesPerSender: 3, maxBytesPerSender: 100))
            let outcomes = try store.enqueue((0..<5).map { _ in try draft("mallory", "bob", [1]) } + [try draft("alice", "bob", [2])])
            #expect(outcomes.prefix(3).allSatisfy { $0.accepted != nil })
            #expect(outcomes[3...4].allSatisfy { $0 == .refused(.senderShareFull(envelopes: 3, bytes: 100)) })
            #expect(outcomes[5].accepted != nil, "alice is not refused because of mallory")
            // The share is in bytes too, and per recipient.
            #expect(try store.enqueue([draft("carol", "bob", [UInt8](repeating: 0, count: 101))]) == [.refused(.senderShareFull(envelopes: 3, bytes: 100))])
            #expect(try store.enqueue([draft("mallory", "dave", [1])]).first?.accepted != nil)
            // Reading frees the share.
            let first = try #require(outcomes[0].accepted)
            #expect(try store.acknowledge([first.id], for: user("bob")) == 1)
            #expect(try store.enqueue([draft("mallory", "bob", [1])]).first?.accepted != nil)
        },
        ContractCheck("the total over all mailboxes is capped; acknowledgements and removeAll free it") { make in
            let store = try make(MailboxLimits(maxEnvelopes: 10, maxBytes: 1 << 20, maxPayloadBytes: 1024, maxTotalBytes: 100))
            let outcomes = try store.enqueue([
                draft("alice", "bob", [UInt8](repeating: 0, count: 60)),
                draft("alice", "carol", [UInt8](repeating: 0, count: 40)),
                draft("dave", "erin", [1]),
            ])
            #expect(outcomes[0].accepted != nil && outcomes[1].accepted != nil)
            #expect(outcomes[2] == .refused(.serverFull))
            let toBob = try #require(outcomes[0].accepted)
            #expect(try store.acknowledge([toBob.id], for: user("bob")) == 1)
            #expect(try store.enqueue([draft("dave", "erin", [UInt8](repeating: 0, count: 60))]).first?.accepted != nil)
            #expect(try store.enqueue([draft("dave", "erin", [1])]) == [.refused(.serverFull)])
            try store.removeAll(for: user("erin"))
            #expect(try store.enqueue([draft("dave", "erin", [UInt8](repeating: 0, count: 60))]).first?.accepted != nil)
        },
        ContractCheck("acknowledging deletes only the recipient's own envelopes") { make in
            let store = try make(roomy)
            let sent = try store.enqueue([
                draft("alice", "bob", [1]), draft("alice", "carol", [2]), draft("alice", "bob", [3, 3]),
            ]).compactMap(\.accepted)
            let (bob, carol, dave) = (try user("bob"), try user("carol"), try user("dave"))
            // An envelope is (recipient, id): Bob's ids acknowledged by Dave (who has no mail), or
            // by Carol where she holds no such id, delete nothing; neither do an id Bob never got
            // and one too large for SQLite.
            #expect(try store.acknowledge([sent[0].id, sent[2].id], for: dave) == 0)
            #expect(try store.acknowledge([sent[0].id, sent[2].id].filter { $0 != sent[1].id }, for: carol) == 0)
            #expect(try store.acknowledge([sent[2].id + 1_000_000, .max], for: bob) == 0)
            #expect(try store.pending(for: bob, after: nil, limit: 10) == [sent[0], sent[2]])
            #expect(try store.pending(for: carol, after: nil, limit: 10) == [sent[1]])
            // Bob's acknowledgement deletes his envelope, never Carol's (even where her id is the
            // same number, as in a store that numbers each recipient on its own).
            #expect(try store.acknowledge([sent[0].id], for: bob) == 1)
            #expect(try store.pending(for: carol, after: nil, limit: 10) == [sent[1]])
            #expect(try store.pending(for: bob, after: nil, limit: 10) == [sent[2]])
            #expect(try store.usage(for: bob) == MailboxUsage(count: 1, bytes: 2))
            #expect(try store.acknowledge([sent[0].id], for: bob) == 0)
            #expect(try store.acknowledge([], for: bob) == 0)
            #expect(try store.acknowledge([sent[2].id, sent[2].id], for: bob) == 1)
            #expect(try store.usage(for: bob) == .empty)
            #expect(try store.acknowledge([sent[1].id], for: carol) == 1)
            #expect(try store.usage(for: carol) == .empty)
        },
        ContractCheck("acknowledging frees room under the cap") { make in
            let store = try make(MailboxLimits(maxEnvelopes: 2, maxBytes: 1 << 20, maxPayloadBytes: 1024))
            let sent = try store.enqueue([draft("alice", "bob", [1]), draft("alice", "bob", [2])]).compactMap(\.accepted)
            #expect(try store.enqueue([draft("alice", "bob", [3])]) == [.refused(.tooManyEnvelopes(limit: 2))])
            _ = try store.acknowledge([sent[0].id], for: user("bob"))
            #expect(try store.enqueue([draft("alice", "bob", [3])]).first?.accepted != nil)
        },
        ContractCheck("commit applies acknowledgements, then the batch, and frees room for it") { make in
            let store = try make(MailboxLimits(maxEnvelopes: 2, maxBytes: 1 << 20, maxPayloadBytes: 1024))
            let (bob, carol) = (try user("bob"), try user("carol"))
            let sent = try store.enqueue([
                draft("alice", "bob", [1]), draft("alice", "bob", [2]), draft("alice", "carol", [3]),
            ]).compactMap(\.accepted)
            // Bob's queue is full; his acknowledgement in the same commit makes room for the draft.
            // An unknown id and an id too large for SQLite are ignored, as by acknowledge, and
            // Carol's empty acknowledgement changes nothing.
            let outcomes = try store.commit(
                enqueue: [draft("alice", "bob", [4]), draft("alice", "bob", [5])],
                acknowledge: [
                    MailboxAcknowledgement(ids: [sent[0].id, sent[1].id + 999_999, .max], recipient: bob),
                    MailboxAcknowledgement(ids: [], recipient: carol),
                ])
            #expect(outcomes.map(\.accepted).map { $0 != nil } == [true, false])
            #expect(outcomes[1] == .refused(.tooManyEnvelopes(limit: 2)))
            let added = try #require(outcomes[0].accepted)
            #expect(added.id > sent[1].id)
            #expect(try store.pending(for: bob, after: nil, limit: 10) == [sent[1], added])
            #expect(try store.pending(for: carol, after: nil, limit: 10) == [sent[2]])
            // Acknowledgements alone, and nothing at all.
            #expect(try store.commit(enqueue: [], acknowledge: [MailboxAcknowledgement(ids: [sent[1].id, added.id], recipient: bob)]) == [])
            #expect(try store.usage(for: bob) == .empty)
            #expect(try store.commit(enqueue: [], acknowledge: []) == [])
            #expect(try store.usage(for: carol) == MailboxUsage(count: 1, bytes: 1))
        },
        ContractCheck("ids are never reused, even after everything is deleted") { make in
            let store = try make(roomy)
            let first = try store.enqueue([draft("alice", "bob", [1]), draft("alice", "bob", [2])]).compactMap(\.accepted)
            _ = try store.acknowledge(first.map(\.id), for: user("bob"))
            try store.removeAll(for: user("bob"))
            let next = try #require(try store.enqueue([draft("alice", "bob", [3])]).first?.accepted)
            #expect(next.id > first[1].id)
            #expect(try store.pending(for: user("bob"), after: first[1].id, limit: 10) == [next])
        },
        ContractCheck("removeAll deletes mail addressed to the user, not mail the user sent") { make in
            let store = try make(roomy)
            let sent = try store.enqueue([
                draft("alice", "bob", [1]), draft("bob", "alice", [2]), draft("carol", "bob", [3]),
            ]).compactMap(\.accepted)
            try store.removeAll(for: user("bob"))
            #expect(try store.pending(for: user("bob"), after: nil, limit: 10) == [])
            #expect(try store.usage(for: user("bob")) == .empty)
            #expect(try store.pending(for: user("alice"), after: nil, limit: 10) == [sent[1]])
            try store.removeAll(for: user("nobody"))
        },
        ContractCheck("concurrent batches all land, with unique ids, in each sender's order") { make in
            let store = try make(roomy)
            let senders = ["alice", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for sender in senders {
                    group.addTask {
                        for round in 0..<10 {
                            let batch = try (0..<5).map { item in try draft(sender, "bob", [UInt8(round * 5 + item)]) }
                            #expect(try store.enqueue(batch).allSatisfy { $0.accepted != nil })
                        }
                    }
                }
                try await group.waitForAll()
            }
            let pending = try store.pending(for: user("bob"), after: nil, limit: 1_000)
            #expect(pending.count == 400)
            #expect(Set(pending.map(\.id)).count == 400)
            #expect(pending.map(\.id) == pending.map(\.id).sorted())
            for sender in senders {
                #expect(pending.filter { $0.sender.value == sender }.map { $0.payload[0] } == Array(0..<50))
            }
        },
    ]

    static func draft(_ sender: String, _ recipient: String, _ payload: [UInt8], at milliseconds: Int64 = 1_700_000_000_000) throws -> MailboxEnvelopeDraft {
        MailboxEnvelopeDraft(
            sender: try user(sender), recipient: try user(recipient), payload: payload,
            acceptedAt: Timestamp(millisecondsSinceEpoch: milliseconds))
    }

    static func bytes(_ count: Int) -> [UInt8] { [UInt8](repeating: 0x5a, count: count) }
}

extension EnqueueOutcome {
    /// The envelope when accepted.
    var accepted: MailboxEnvelope? {
        if case .accepted(let envelope) = self { envelope } else { nil }
    }
}
