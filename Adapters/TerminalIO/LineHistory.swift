/// The lines entered so far in this process, for Up/Down recall. Memory only: chat lines are private
/// and the client keeps its own encrypted history, so nothing is written to disk here.
struct LineHistory {
    let capacity: Int
    private(set) var entries: [String] = []

    init(capacity: Int = TerminalLimits.historyCapacity) {
        self.capacity = max(capacity, 0)
    }

    /// Records a submitted line, skipping blank lines and a repeat of the previous entry.
    mutating func add(_ line: String) {
        guard capacity > 0, !line.allSatisfy(\.isWhitespace), entries.last != line else { return }
        entries.append(line)
        if entries.count > capacity {
            entries.removeFirst(entries.count - capacity)
        }
    }
}

/// Where Up/Down currently are in the history during one `readLine`, and the line that was being
/// typed before the first Up (restored when Down walks past the newest entry).
struct HistoryNavigation {
    private var index: Int?
    private var draft = ""

    /// The entry to show after Up, or nil when there is nothing older.
    mutating func older(in history: LineHistory, current: String) -> String? {
        guard !history.entries.isEmpty else { return nil }
        switch index {
        case nil:
            draft = current
            index = history.entries.count - 1
        case let position? where position > 0:
            index = position - 1
        default:
            return nil
        }
        return index.map { history.entries[$0] }
    }

    /// The entry (or the saved draft) to show after Down, or nil when already on the draft.
    mutating func newer(in history: LineHistory) -> String? {
        guard let position = index else { return nil }
        if position + 1 < history.entries.count {
            index = position + 1
            return history.entries[position + 1]
        }
        index = nil
        return draft
    }
}
