import Foundation
import Testing

/// Issue 10, finding 9: a message must not be able to print a line that looks like another
/// person's message. Continuation lines of a message are marked in the plain and the interactive
/// output; `--json` keeps the text escaped (no raw line break or terminal control at all).
@Suite("Forged message lines", .serialized, .timeLimit(.minutes(3)))
struct ForgedLineTests {
    static let forged = "2026-12-01 06:16 alice: send me your password"
    static let texts = ["hello\n" + forged, "hi\u{2028}" + forged, "hey\r\n" + forged, "yo\u{85}" + forged]

    /// Mallory (a stranger to Bob) sends each forging text to Bob.
    static func world() async throws -> World {
        let world = try World()
        try await world.server.start()
        try await world.register("mallory")
        try await world.register("bob")
        for text in texts {
            let sent = try await world.parley("mallory", ["send", "bob", text])
            #expect(sent.status == 0, "\(sent)")
        }
        return world
    }

    /// No line may start like a message line of its own: the forged text must only appear after
    /// the continuation marker, and no raw Unicode line break may be printed.
    static func expectNoForgedLine(_ output: String, _ context: String) {
        let lines = output.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for line in lines {
            #expect(!line.hasPrefix("2026-12-01 06:16 alice"), "\(context): a forged line:\n\(output)")
        }
        #expect(lines.filter { $0.contains(Self.forged) }.count == texts.count, "\(context):\n\(output)")
        for line in lines where line.contains(Self.forged) {
            #expect(line.hasPrefix("  │ ") || line.hasPrefix("    │ "), "\(context): \(line.debugDescription)")
        }
        for scalar in output.unicodeScalars {
            #expect(![0x0D, 0x85, 0x2028, 0x2029].contains(scalar.value), "\(context): raw U+\(String(scalar.value, radix: 16)) in \(output.debugDescription)")
        }
    }

    @Test("plain output: receive, history and requests mark every continuation line")
    func plainOutput() async throws {
        let world = try await Self.world()
        let received = try await world.parley("bob", ["receive"])
        #expect(received.status == 0, "\(received)")
        Self.expectNoForgedLine(received.stdout, "receive")
        let history = try await world.parley("bob", ["history", "mallory"])
        #expect(history.status == 0, "\(history)")
        Self.expectNoForgedLine(history.stdout, "history")
        let requests = try await world.parley("bob", ["requests"])
        #expect(requests.status == 0, "\(requests)")
        Self.expectNoForgedLine(requests.stdout, "requests")
    }

    @Test("--json: one escaped JSON object per message, decoding to the exact text")
    func jsonOutput() async throws {
        let world = try await Self.world()
        for command in [["receive", "--json"], ["history", "mallory", "--json"]] {
            let result = try await world.parley("bob", command)
            #expect(result.status == 0, "\(result)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == Self.texts.count, "\(command): \(result.stdout.debugDescription)")
            let decoded = try lines.map { try JSONDecoder().decode([String: AnyDecodable].self, from: Data($0.utf8))["text"]?.string }
            #expect(decoded == Self.texts)
            for scalar in result.stdout.unicodeScalars {
                let value = scalar.value
                #expect(!((value < 0x20 && value != 0x0A) || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029),
                        "\(command): raw U+\(String(value, radix: 16)) in \(result.stdout.debugDescription)")
            }
        }
    }

    @Test("interactive: a continuation line in the conversation is marked")
    func interactiveOutput() async throws {
        let world = try await Self.world()
        let bob = try InteractiveClient("bob", in: world)
        try await bob.logIn()
        let start = bob.transcript.endIndex
        bob.type(line: "/chat mallory")
        try await bob.read(until: "yo", from: start)
        try await bob.read(until: Self.forged + "\r\n", from: start)
        // Let the last lines arrive, then look at exactly what the terminal drew.
        try await Task.sleep(for: .milliseconds(300))
        bob.terminal.drain()
        let shown = String(bob.transcript[start...])
        let occurrences = shown.components(separatedBy: Self.forged).count - 1
        let marked = shown.components(separatedBy: "│ " + Self.forged).count - 1
        // A message can be shown twice (live as it lands, and again in the conversation's history).
        #expect(occurrences >= Self.texts.count, "\(shown.debugDescription)")
        #expect(marked == occurrences, "a continuation line was not marked:\n\(shown.debugDescription)")
        for raw in ["\u{2028}", "\u{85}"] { #expect(!shown.contains(raw), "\(shown.debugDescription)") }
        #expect(try await bob.quit() == 0)
    }
}

/// Issue 10, finding 9, second half: a message padded to the width of the window. The terminal
/// wraps a long line by itself and the wrapped part starts at the left margin, so without wrapping
/// by the client, a tail placed at a multiple of the width passes for a line of its own.
@Suite("Forged lines by padding to the terminal's width", .serialized, .timeLimit(.minutes(3)))
struct PaddedForgedLineTests {
    /// Copies of the forged line 46 columns apart cover every even column of an 80- or 100-column
    /// line; the second text starts one column later and covers the odd ones. So whatever the
    /// width of the prefix before the text, some copy lands at the start of a wrapped part.
    static let texts = [0, 1].map { shift in
        String(repeating: " ", count: shift) + String(repeating: ForgedLineTests.forged + " ", count: 40)
    }
    static let displayMarker = "  │ "

    static func world() async throws -> World {
        let world = try World()
        try await world.server.start()
        try await world.register("mallory")
        try await world.register("bob")
        for text in texts {
            let sent = try await world.parley("mallory", ["send", "bob", text])
            #expect(sent.status == 0, "\(sent)")
        }
        return world
    }

    /// The rows a terminal `columns` wide shows for `output`: each line after its last carriage
    /// return (what the terminal keeps of a redrawn line), without escape sequences, cut every
    /// `columns` characters as the terminal wraps it (the texts here are ASCII).
    static func rows(of output: String, columns: Int) -> [Substring] {
        var rows: [Substring] = []
        // "\r\n" is one Character in Swift, so split on both forms of a line end.
        for rawLine in output.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = Substring(rawLine)
            if let lastReturn = line.lastIndex(of: "\r") { line = line[line.index(after: lastReturn)...] }
            let visible = withoutEscapes(line)
            var rest = Substring(visible)
            repeat {
                rows.append(rest.prefix(columns))
                rest = rest.dropFirst(columns)
            } while !rest.isEmpty
        }
        return rows
    }

    static func withoutEscapes(_ text: Substring) -> String {
        var result = ""
        var iterator = text.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            guard scalar == "\u{1B}" else { result.unicodeScalars.append(scalar); continue }
            guard iterator.next() == "[" else { continue }
            while let next = iterator.next(), !(0x40...0x7E).contains(next.value) {}
        }
        return result
    }

    static func expectNoForgedRow(_ output: String, columns: Int, _ context: String) {
        let rows = rows(of: output, columns: columns)
        let forgedRows = rows.filter { $0.hasPrefix("2026-12-01 06:16 alice") }
        #expect(forgedRows.isEmpty, "\(context): \(forgedRows.count) rows pass for alice's message:\n\(rows.joined(separator: "\n"))")
        #expect(rows.contains { $0.hasPrefix("  │ ") }, "\(context): nothing was wrapped:\n\(output)")
    }

    @Test("plain output wraps to COLUMNS and marks every wrapped part")
    func plainOutput() async throws {
        let world = try await Self.world()
        let history = try await world.parley("bob", ["history", "mallory"], environment: ["COLUMNS": "80"])
        #expect(history.status == 0, "\(history)")
        Self.expectNoForgedRow(history.stdout, columns: 80, "history")
        let requests = try await world.parley("bob", ["requests"], environment: ["COLUMNS": "80"])
        #expect(requests.status == 0, "\(requests)")
        Self.expectNoForgedRow(requests.stdout, columns: 80, "requests")
        // Without a known width nothing is cut: a program reading the output gets the text whole.
        let piped = try await world.parley("bob", ["history", "mallory"])
        #expect(piped.stdout.contains(Self.texts[1]), "\(piped)")
    }

    @Test("interactive: the conversation is wrapped to the terminal's width")
    func interactiveOutput() async throws {
        let world = try await Self.world()
        let bob = try InteractiveClient("bob", in: world)
        try await bob.logIn()
        let start = bob.transcript.endIndex
        bob.type(line: "/chat mallory")
        try await bob.read(until: "conversation with mallory", from: start)
        try await Task.sleep(for: .milliseconds(500))
        bob.terminal.drain()
        let shown = String(bob.transcript[start...])
        let unwrapped = shown.replacingOccurrences(of: "\r\n" + Self.displayMarker, with: "").replacingOccurrences(of: "\n" + Self.displayMarker, with: "")
        #expect(unwrapped.components(separatedBy: ForgedLineTests.forged).count - 1 >= 80, "\(shown.debugDescription)")
        Self.expectNoForgedRow(shown, columns: 100, "interactive")
        #expect(try await bob.quit() == 0)
    }
}

/// Just enough of "any JSON value" to read one string field of a record.
struct AnyDecodable: Decodable {
    let string: String?
    init(from decoder: any Decoder) throws {
        string = try? decoder.singleValueContainer().decode(String.self)
    }
}
