import Primitives
import ServerCore

/// ``BlockStore`` in memory, held to the same contract suite as `SQLiteBlockStore`. Thread-safe.
public final class InMemoryBlockStore: BlockStore {
    /// Blocker -> the users they block.
    private let blocks = LockedValue<[Username: Set<Username>]>([:])

    public init() {}

    public func block(_ blocked: Username, by blocker: Username) throws(StoreError) {
        blocks.withLock { _ = $0[blocker, default: []].insert(blocked) }
    }

    public func unblock(_ blocked: Username, by blocker: Username) throws(StoreError) {
        blocks.withLock { blocks in
            blocks[blocker]?.remove(blocked)
            if blocks[blocker]?.isEmpty == true { blocks[blocker] = nil }
        }
    }

    public func isBlocked(sender: Username, by recipient: Username) throws(StoreError) -> Bool {
        blocks.withLock { $0[recipient]?.contains(sender) ?? false }
    }

    public func blocked(by blocker: Username) throws(StoreError) -> [Username] {
        blocks.withLock { ($0[blocker] ?? []).sorted() }
    }

    public func removeAll(for user: Username) throws(StoreError) {
        blocks.withLock { blocks in
            blocks[user] = nil
            for blocker in Array(blocks.keys) {
                blocks[blocker]?.remove(user)
                if blocks[blocker]?.isEmpty == true { blocks[blocker] = nil }
            }
        }
    }
}
