/// The line being typed and the cursor within it, with the editing operations the keys map to.
///
/// The line is kept as `[Character]` (grapheme clusters), so that Left, Right and Backspace move
/// over what the user sees as one character — `é` or `👋` — never into the middle of its bytes.
/// The UTF-8 size is tracked incrementally to enforce ``TerminalLimits/maxLineBytes`` without
/// re-measuring the whole line on every key.
struct EditBuffer: Equatable {
    private(set) var characters: [Character] = []
    /// Index into ``characters`` of the character under the cursor (`count` = after the last).
    private(set) var cursor = 0
    private(set) var utf8Count = 0

    var text: String { String(characters) }
    var isEmpty: Bool { characters.isEmpty }

    /// Inserts at the cursor; returns false (and changes nothing) past the length limit.
    @discardableResult
    mutating func insert(_ character: Character, maxUTF8Count: Int = TerminalLimits.maxLineBytes) -> Bool {
        let size = character.utf8.count
        guard utf8Count + size <= maxUTF8Count else { return false }
        characters.insert(character, at: cursor)
        cursor += 1
        utf8Count += size
        return true
    }

    /// Replaces the whole line (history recall) and puts the cursor at its end.
    mutating func replace(with text: String) {
        characters = Array(text)
        cursor = characters.count
        utf8Count = text.utf8.count
    }

    mutating func removeAll() { replace(with: "") }

    mutating func backspace() {
        guard cursor > 0 else { return }
        cursor -= 1
        remove(cursor..<cursor + 1)
    }

    mutating func deleteForward() {
        guard cursor < characters.count else { return }
        remove(cursor..<cursor + 1)
    }

    mutating func moveLeft() { cursor = max(cursor - 1, 0) }
    mutating func moveRight() { cursor = min(cursor + 1, characters.count) }
    mutating func moveHome() { cursor = 0 }
    mutating func moveEnd() { cursor = characters.count }

    mutating func killToStart() {
        remove(0..<cursor)
        cursor = 0
    }

    mutating func killToEnd() { remove(cursor..<characters.count) }

    /// Ctrl-W as in a shell: skip the spaces before the cursor, then delete back to the previous space.
    mutating func deleteWordBackward() {
        let start = wordStart(before: cursor)
        remove(start..<cursor)
        cursor = start
    }

    mutating func moveWordLeft() { cursor = wordStart(before: cursor) }

    mutating func moveWordRight() {
        var index = cursor
        while index < characters.count, characters[index].isWhitespace { index += 1 }
        while index < characters.count, !characters[index].isWhitespace { index += 1 }
        cursor = index
    }

    private func wordStart(before position: Int) -> Int {
        var index = position
        while index > 0, characters[index - 1].isWhitespace { index -= 1 }
        while index > 0, !characters[index - 1].isWhitespace { index -= 1 }
        return index
    }

    private mutating func remove(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        utf8Count -= characters[range].reduce(0) { $0 + $1.utf8.count }
        characters.removeSubrange(range)
    }
}
