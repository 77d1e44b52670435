import Testing

@testable import TerminalIO

@Suite struct EditBufferTests {
    private func buffer(_ text: String, cursor: Int? = nil) -> EditBuffer {
        var buffer = EditBuffer()
        buffer.replace(with: text)
        if let cursor {
            buffer.moveHome()
            for _ in 0..<cursor { buffer.moveRight() }
        }
        return buffer
    }

    @Test func insertionAndDeletionHappenAtTheCursor() {
        var line = buffer("held", cursor: 2)
        line.insert("l")
        #expect(line.text == "helld" && line.cursor == 3)
        line.deleteForward()
        #expect(line.text == "held")
        line.backspace()
        #expect(line.text == "hed" && line.cursor == 2)
        line.moveHome()
        line.backspace()  // nothing before the cursor
        line.moveEnd()
        line.deleteForward()  // nothing after it
        #expect(line.text == "hed" && line.cursor == 3)
    }

    @Test func killsAndWordMotions() {
        var line = buffer("say hello there", cursor: 9)
        line.deleteWordBackward()
        #expect(line.text == "say  there" && line.cursor == 4)
        line.moveWordRight()
        #expect(line.cursor == 10)
        line.moveWordLeft()
        #expect(line.cursor == 5)
        line.killToEnd()
        #expect(line.text == "say  ")
        line.moveLeft()
        line.killToStart()
        #expect(line.text == " " && line.cursor == 0)
    }

    @Test func theByteLimitRefusesFurtherInput() {
        var line = EditBuffer()
        // `#expect` cannot wrap a mutating call, hence the map over the inputs.
        let accepted = ["a", "é", "👋", "b"].map { line.insert($0, maxUTF8Count: 5) }
        #expect(accepted == [true, true, false, true])  // 3 + 4 bytes would exceed 5
        #expect(line.text == "aéb")
        line.backspace()
        line.backspace()
        #expect(line.utf8Count == 1)
    }
}

@Suite struct LineHistoryTests {
    @Test func blankLinesAndRepeatsAreNotStoredAndTheOldestFallOff() {
        var history = LineHistory(capacity: 3)
        for line in ["a", "a", "  ", "", "b", "a", "c", "d"] { history.add(line) }
        #expect(history.entries == ["b", "a", "c", "d"].suffix(3))
    }

    @Test func navigationWalksBackAndReturnsToTheDraft() {
        var history = LineHistory()
        history.add("one")
        history.add("two")
        var navigation = HistoryNavigation()
        let steps: [String?] = [
            navigation.newer(in: history),
            navigation.older(in: history, current: "draft"),
            navigation.older(in: history, current: "two"),
            navigation.older(in: history, current: "one"),
            navigation.newer(in: history),
            navigation.newer(in: history),
            navigation.newer(in: history),
        ]
        #expect(steps == [nil, "two", "one", nil, "two", "draft", nil])
        var fresh = HistoryNavigation()
        let fromEmpty = fresh.older(in: LineHistory(), current: "x")
        #expect(fromEmpty == nil)
    }
}

@Suite struct LineRendererTests {
    private func render(_ text: String, cursor: Int, columns: Int, renderer: inout LineRenderer) -> Screen {
        var buffer = EditBuffer()
        buffer.replace(with: text)
        buffer.moveHome()
        for _ in 0..<cursor { buffer.moveRight() }
        var screen = Screen(columns: columns)
        screen.feed(Array(renderer.render(prompt: "> ", buffer: buffer, columns: columns).utf8))
        return screen
    }

    @Test func aShortLineIsDrawnWholeWithTheCursorInPlace() {
        var renderer = LineRenderer()
        let screen = render("hello", cursor: 2, columns: 80, renderer: &renderer)
        #expect(screen.currentLine == "> hello" && screen.column == 4)
    }

    @Test func aLongLineScrollsToKeepTheCursorVisibleAndBackAfterDeletion() {
        var renderer = LineRenderer()
        let text = String(repeating: "0123456789", count: 3)
        var screen = render(text, cursor: 30, columns: 12, renderer: &renderer)
        // 12 columns: "> " then 9 characters, the last column left empty.
        #expect(screen.currentLine == "> 123456789" && screen.column == 11 && !screen.wrapped)
        screen = render(text, cursor: 25, columns: 12, renderer: &renderer)  // moving left keeps the view
        #expect(screen.currentLine == "> 123456789" && screen.column == 6)
        screen = render(text, cursor: 15, columns: 12, renderer: &renderer)
        #expect(screen.currentLine == "> 567890123" && screen.column == 2)
        screen = render("0123", cursor: 4, columns: 12, renderer: &renderer)  // the line got shorter
        #expect(screen.currentLine == "> 0123" && screen.column == 6)
    }

    @Test func wideCharactersAndColouredPromptsAreMeasuredInColumns() {
        #expect(DisplayWidth.of("a👋漢é") == 6)
        #expect(DisplayWidth.of("e\u{301}") == 1)
        #expect(DisplayWidth.of("\u{1B}[1m> \u{1B}[22m") == 2)
        var renderer = LineRenderer()
        var buffer = EditBuffer()
        buffer.replace(with: "👋👋👋👋👋👋")
        var screen = Screen(columns: 10)
        screen.feed(Array(renderer.render(prompt: "\u{1B}[36m> \u{1B}[39m", buffer: buffer, columns: 10).utf8))
        // 7 columns for text: three emoji (6 columns) fit, a fourth would not.
        #expect(screen.currentLine == "> 👋👋👋" && screen.column == 8 && !screen.wrapped)
    }
}
