import Primitives

/// Message keys derived for messages that have not arrived yet (out of order or lost), bounded
/// and evicted oldest first.
struct SkippedMessageKeys: Sendable, Equatable {
    struct Slot: Hashable, Sendable {
        let ratchetKey: X25519PublicKey
        let messageNumber: UInt32
    }

    /// Insertion order, for eviction. Small (at most ``ConversationLimits/maxSkippedMessageKeys``).
    private(set) var entries: [(slot: Slot, key: MessageKey)] = []

    static func == (lhs: SkippedMessageKeys, rhs: SkippedMessageKeys) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.slot == $1.slot && $0.key == $1.key }
    }

    var count: Int { entries.count }

    var isEmpty: Bool { entries.isEmpty }

    mutating func insert(_ key: MessageKey, for slot: Slot) {
        entries.append((slot, key))
        if entries.count > ConversationLimits.maxSkippedMessageKeys {
            entries.removeFirst(entries.count - ConversationLimits.maxSkippedMessageKeys)
        }
    }

    /// Removes and returns the key for `slot`: a skipped key is used at most once.
    mutating func take(_ slot: Slot) -> MessageKey? {
        guard let index = entries.firstIndex(where: { $0.slot == slot }) else { return nil }
        return entries.remove(at: index).key
    }
}
