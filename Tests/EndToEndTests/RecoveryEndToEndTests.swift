import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What issue 8 promises, tried with the built binaries: no message is lost or left unreadable
/// when two people write first at once, when a catch-up is killed, or when the disk is full.
@Suite("Recovery end to end", .serialized, .timeLimit(.minutes(5)))
struct RecoveryEndToEndTests {
    /// The texts of `--json history` lines.
    func historyTexts(_ result: RunResult) throws -> [String] {
        try result.stdout.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw HarnessError(description: "not a JSON object: \(line)")
            }
            return object["text"] as? String ?? "<\(object["type"] ?? "?")>"
        }
    }

    @Test("simultaneous first contact: both write first before either has seen the other's message, and every message in both directions stays readable and is in each history once")
    func simultaneousFirstContactStaysReadable() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("erin")
        try await world.register("finn")
        // Each client waits this long before handling a push, so that both first messages are
        // sent before either client has processed the other's: the race is certain, not likely.
        let pushDelay = ["PARLEY_TEST_PUSH_DELAY_MS": "1500"]
        let erin = try InteractiveClient("erin", in: world, environment: pushDelay)
        let finn = try InteractiveClient("finn", in: world, environment: pushDelay)
        try await erin.logIn()
        try await finn.logIn()
        erin.type(line: "/chat finn")
        finn.type(line: "/chat erin")
        try await erin.read(until: "conversation with finn")
        try await finn.read(until: "conversation with erin")

        let unreadable = "could not be read"
        var sent: [(from: InteractiveClient, to: InteractiveClient, text: String)] = []
        /// Types `text` and waits for the sent line (the server stored it). Returns where the
        /// recipient's terminal stood just before.
        func send(_ text: String, from sender: InteractiveClient, to recipient: InteractiveClient) async throws -> String.Index {
            recipient.terminal.drain()
            let recipientBefore = recipient.transcript.endIndex
            let before = sender.transcript.endIndex
            sender.type(line: text)
            try await sender.read(until: "\(sender.user): \(text)", from: before)
            sent.append((sender, recipient, text))
            return recipientBefore
        }
        /// Waits until `text` is shown to `recipient`, or a message is reported unreadable there
        /// (after `start`, when it was sent).
        var notShown: String?
        func arrival(of text: String, at recipient: InteractiveClient, from start: String.Index) async throws -> Bool {
            let seen = try await recipient.terminal.read(untilAny: [text, unreadable], from: start, timeout: .seconds(30))
            if seen != text { notShown = "\(text.debugDescription) was not shown to \(recipient.user); a message was reported unreadable instead" }
            return seen == text
        }

        // Both first messages go out within the push delay of each other.
        let erinFirst = "erin 1: hello finn, nice to meet you"
        let finnFirst = "finn 1: hello erin, nice to meet you"
        erin.terminal.drain()
        finn.terminal.drain()
        let (erinBefore, finnBefore) = (erin.transcript.endIndex, finn.transcript.endIndex)
        erin.type(line: erinFirst)
        finn.type(line: finnFirst)
        try await erin.read(until: "erin: \(erinFirst)")
        try await finn.read(until: "finn: \(finnFirst)")
        sent += [(erin, finn, erinFirst), (finn, erin, finnFirst)]
        erin.terminal.drain()
        finn.terminal.drain()
        #expect(!erin.transcript.contains(finnFirst) && !finn.transcript.contains(erinFirst), "the race did not happen: a first message was handled before the other was sent")

        var allReadable = try await arrival(of: finnFirst, at: erin, from: erinBefore)
        if allReadable { allReadable = try await arrival(of: erinFirst, at: finn, from: finnBefore) }
        // Then back and forth, each message waiting for the previous one's arrival.
        var round = 2
        while allReadable, round <= 4 {
            let fromErin = "erin \(round): still reading you, finn?"
            let finnBeforeIt = try await send(fromErin, from: erin, to: finn)
            allReadable = try await arrival(of: fromErin, at: finn, from: finnBeforeIt)
            guard allReadable else { break }
            let fromFinn = "finn \(round): loud and clear, erin"
            let erinBeforeIt = try await send(fromFinn, from: finn, to: erin)
            allReadable = try await arrival(of: fromFinn, at: erin, from: erinBeforeIt)
            round += 1
        }
        // Receipts still in flight (at most a few pushes, each delayed) could be unreadable too.
        try await Task.sleep(for: .seconds(5))
        for client in [erin, finn] {
            client.terminal.drain()
            let lines = client.transcript.split(whereSeparator: \.isNewline).filter { $0.contains(unreadable) }
            #expect(lines.isEmpty, "\(client.user) was shown \(lines.count) unreadable message(s), the first: \(lines.first ?? "")\n--- \(client.user)'s terminal:\n\(client.transcript)")
        }
        #expect(allReadable, "\(notShown ?? "")")
        #expect(try await erin.quit() == 0, "\(erin.transcript)")
        #expect(try await finn.quit() == 0, "\(finn.transcript)")
        guard allReadable else { return }

        // Each side's history holds every message of the conversation exactly once.
        let expected = sent.map(\.text).sorted()
        #expect(expected.count == 8)
        for (user, peer) in [("erin", "finn"), ("finn", "erin")] {
            let history = try await world.parley(user, ["--json", "history", peer, "--limit", "1000"])
            #expect(history.status == 0, "\(history)")
            #expect(try historyTexts(history).sorted() == expected, "\(user)'s history:\n\(history)")
        }
    }
}
