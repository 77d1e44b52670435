import Conversations
import Envelope
import Primitives

/// ``HistoryStore`` in memory, in insertion order.
public final class InMemoryHistoryStore: HistoryStore {
    private let entries = LockedValue([HistoryEntry]())

    public init() {}

    @discardableResult
    public func append(_ entry: HistoryEntry) throws(StoreError) -> Bool {
        entries.withLock { entries in
            guard !entries.contains(where: { $0.id == entry.id }) else { return false }
            entries.append(entry)
            return true
        }
    }

    public func contains(_ id: MessageID) throws(StoreError) -> Bool {
        entries.withLock { $0.contains { $0.id == id } }
    }

    public func entries(with peer: Username, limit: Int) throws(StoreError) -> [HistoryEntry] {
        entries.withLock { Array($0.filter { $0.peer == peer }.suffix(max(0, limit))) }
    }

    public func raiseStatus(of ids: [MessageID], to status: HistoryEntry.Status) throws(StoreError) {
        let wanted = Set(ids)
        entries.withLock { entries in
            for index in entries.indices where wanted.contains(entries[index].id) && entries[index].direction == .sent && entries[index].status < status {
                entries[index].status = status
            }
        }
    }

    public func clearRequestFlag(for peer: Username) throws(StoreError) {
        entries.withLock { entries in
            for index in entries.indices where entries[index].peer == peer { entries[index].isRequest = false }
        }
    }

    public func removeConversation(with peer: Username) throws(StoreError) -> [SealedImageReference] {
        entries.withLock { entries in
            let removed = entries.filter { $0.peer == peer }
            entries.removeAll { $0.peer == peer }
            return removed.compactMap { if case .image(let reference, _, _) = $0.body { reference } else { nil } }
        }
    }

    var snapshot: [HistoryEntry] {
        get { entries.withLock { $0 } }
        set { entries.withLock { $0 = newValue } }
    }
}
