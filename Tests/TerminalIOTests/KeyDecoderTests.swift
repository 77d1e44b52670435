import Testing

@testable import TerminalIO

@Suite struct KeyDecoderTests {
    private func keys(_ bytes: [UInt8]) -> [Key] {
        var decoder = KeyDecoder()
        return bytes.compactMap { decoder.feed($0) }
    }

    private func keys(_ text: String) -> [Key] { keys(Array(text.utf8)) }

    @Test func arrowsHomeEndAndDeleteInTheirCommonForms() {
        #expect(keys("\u{1B}[A\u{1B}[B\u{1B}[C\u{1B}[D") == [.up, .down, .right, .left])
        #expect(keys("\u{1B}OA\u{1B}OH\u{1B}OF") == [.up, .home, .end])
        #expect(keys("\u{1B}[H\u{1B}[F\u{1B}[1~\u{1B}[4~\u{1B}[7~\u{1B}[8~\u{1B}[3~") == [
            .home, .end, .home, .end, .home, .end, .delete,
        ])
        #expect(keys("\u{1B}[1;5C\u{1B}[1;5D\u{1B}b\u{1B}f") == [.wordRight, .wordLeft, .wordLeft, .wordRight])
    }

    @Test func controlKeys() {
        #expect(keys([0x01, 0x05, 0x15, 0x0B, 0x17, 0x03, 0x04, 0x7F, 0x08, 0x0D]) == [
            .home, .end, .killToStart, .killToEnd, .deleteWordBackward, .interrupt, .endOfTransmission,
            .backspace, .backspace, .enter,
        ])
        #expect(keys([0x09, 0x1A, 0x00]).isEmpty)  // Tab, Ctrl-Z, NUL are not bound
    }

    @Test func carriageReturnLineFeedIsOneEnterButTwoLineFeedsAreTwo() {
        #expect(keys("a\r\nb") == [.character("a"), .enter, .character("b")])
        #expect(keys("\n\n") == [.enter, .enter])
        #expect(keys("\r\r") == [.enter, .enter])
    }

    @Test func utf8SequencesBecomeCharacters() {
        #expect(keys("é漢👋") == [.character("é"), .character("漢"), .character("👋")])
    }

    @Test func invalidUTF8IsDroppedWithoutSwallowingWhatFollows() {
        #expect(keys([0xC3, UInt8(ascii: "x")]) == [.character("x")])  // truncated
        #expect(keys([0x80, 0xFF, UInt8(ascii: "y")]) == [.character("y")])  // stray bytes
        #expect(keys([0xC0, 0xAF, UInt8(ascii: "z")]) == [.character("z")])  // overlong "/"
        #expect(keys([0xED, 0xA0, 0x80, UInt8(ascii: "w")]) == [.character("w")])  // a surrogate
        #expect(keys([0xC2, 0x9B]).isEmpty)  // C1 control (CSI) as UTF-8
        #expect(keys([0xE2, 0x82, 0x0D]) == [.enter])  // cut short by Enter
    }

    @Test func unknownSequencesAreConsumedWhole() {
        #expect(keys("\u{1B}[15~a\u{1B}[200~b\u{1B}OPc\u{1B}[1;2Rd\u{1B}xe") == [
            .character("a"), .character("b"), .character("c"), .character("d"), .character("e"),
        ])
        let longSequence = "\u{1B}[" + String(repeating: "1;", count: 40) + "m" + "f"
        #expect(keys(longSequence) == [.character("f")])
    }

    @Test func aControlByteAbortsASequenceAndStillCounts() {
        #expect(keys("\u{1B}[1\r") == [.enter])
        #expect(keys("\u{1B}\u{03}") == [.interrupt])
        #expect(keys("\u{1B}O\r") == [.enter])
    }

    @Test func flushDropsAPartialSequence() {
        var decoder = KeyDecoder()
        #expect(decoder.feed(0x1B) == nil)
        #expect(decoder.isInsideSequence)
        decoder.flush()
        #expect(!decoder.isInsideSequence)
        #expect(decoder.feed(UInt8(ascii: "d")) == .character("d"))
    }
}
