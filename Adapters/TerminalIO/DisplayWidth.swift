/// How many terminal columns text occupies, so the editor can place the cursor after `é`, `👋` or `漢`.
///
/// A small approximation of `wcwidth`: East Asian wide and emoji-presentation characters take two
/// columns, combining marks and format characters none, everything else one. It is written out here
/// rather than calling glibc's `wcwidth`, which depends on the process locale (`LC_CTYPE` is "C" in
/// a Swift program unless it calls `setlocale`, and then `wcwidth` returns -1 for all non-ASCII).
enum DisplayWidth {
    static func of(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        let value = first.value
        if value < 0x20 || (0x7F..<0xA0).contains(value) { return 0 }
        switch first.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        // U+FE0F asks for the emoji (two-column) presentation of a character such as ❤.
        if first.properties.isEmojiPresentation || scalars.contains("\u{FE0F}") { return 2 }
        return isEastAsianWide(value) ? 2 : 1
    }

    /// The width of text as printed, not counting ANSI escape sequences (a coloured prompt).
    static func of(_ text: String) -> Int {
        withoutEscapeSequences(text).reduce(0) { $0 + of($1) }
    }

    /// Removes `ESC [ … final` and two-byte `ESC x` sequences, which take no columns.
    static func withoutEscapeSequences(_ text: String) -> String {
        guard text.unicodeScalars.contains("\u{1B}") else { return text }
        var result = String.UnicodeScalarView()
        var iterator = text.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            guard scalar == "\u{1B}" else {
                result.append(scalar)
                continue
            }
            guard let introducer = iterator.next(), introducer == "[" else { continue }
            while let byte = iterator.next(), !(0x40...0x7E).contains(byte.value) {}
        }
        return String(result)
    }

    private static func isEastAsianWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x20000...0x3FFFD:
            return true
        default:
            return false
        }
    }
}
