import ClientCore
import Conversations
import Envelope
import Foundation
import Primitives
import ServerCore
import Testing
import WireProtocol

/// Issue 8's promise on in-memory adapters: what was sent arrives, once, readable, through
/// simultaneous first contact, storage failures at every write of the receive path, and real
/// decryption failures (recovered by retry requests).
@Suite("Nothing is lost", .shutsDownConnections, .timeLimit(.minutes(3)))
struct NothingLostTests {
    @Test("two people who write first at the same time can read each other ever after, each message once")
    func simultaneousFirstContact() async throws {
        let world = try TestWorld()
        let (erinName, finnName) = (name("erin"), name("finn"))
        // Pushes wait before they are handled, so both first messages are sent before either
        // side has seen the other's: the race is certain.
        let erin = try world.connect(try world.device("erin"), pushDelay: .milliseconds(300))
        let finn = try world.connect(try world.device("finn"), pushDelay: .milliseconds(300))
        try await erin.client.register(username: erinName, password: password())
        try await finn.client.register(username: finnName, password: password())

        async let fromErin = erin.client.send(text: "hi finn, erin here", to: finnName)
        async let fromFinn = finn.client.send(text: "hi erin, finn here", to: erinName)
        _ = try await (fromErin, fromFinn)
        try await finn.waitFor("erin's first") { $0.messageText == "hi finn, erin here" }
        try await erin.waitFor("finn's first") { $0.messageText == "hi erin, finn here" }

        for round in 0..<4 {
            // Both at once again, then one way and the other.
            async let a = erin.client.send(text: "erin \(round)a", to: finnName)
            async let b = finn.client.send(text: "finn \(round)a", to: erinName)
            _ = try await (a, b)
            try await erin.client.send(text: "erin \(round)b", to: finnName)
            try await finn.waitFor("erin \(round)b") { $0.messageText == "erin \(round)b" }
            try await finn.client.send(text: "finn \(round)b", to: erinName)
            try await erin.waitFor("finn \(round)b") { $0.messageText == "finn \(round)b" }
        }
        try await finn.waitFor("erin 3a") { $0.messageText == "erin 3a" }
        try await erin.waitFor("finn 3a") { $0.messageText == "finn 3a" }

        for side in [erin, finn] {
            #expect(side.recorder.events.filter(\.isDecryptionFailure).isEmpty)
        }
        let expectedFromErin = ["hi finn, erin here"] + (0..<4).flatMap { ["erin \($0)a", "erin \($0)b"] }
        let expectedFromFinn = ["hi erin, finn here"] + (0..<4).flatMap { ["finn \($0)a", "finn \($0)b"] }
        let finnHistory = try await finn.client.history(with: erinName, limit: 100)
        let erinHistory = try await erin.client.history(with: finnName, limit: 100)
        #expect(finnHistory.filter { $0.direction == .received }.compactMap(\.text).sorted() == expectedFromErin.sorted())
        #expect(erinHistory.filter { $0.direction == .received }.compactMap(\.text).sorted() == expectedFromFinn.sorted())
        #expect(Set(finnHistory.map(\.id)).count == finnHistory.count)
        #expect(Set(erinHistory.map(\.id)).count == erinHistory.count)
        await erin.disconnect()
        await finn.disconnect()
    }

    /// What the receiver gets while one of its writes fails.
    enum Arrival: String, CaseIterable, CustomTestStringConvertible {
        /// A first message from a stranger: contact, session record, one-time prekey, history.
        case firstText
        /// An image from an accepted contact: record, image file, history, then the receipt.
        case imageFromContact
        /// A delivery receipt for our own message: record, status, sent log.
        case receipt

        var testDescription: String { rawValue }
    }

    @Test("each single write of the receive path failing once loses nothing and duplicates nothing", arguments: Arrival.allCases)
    func everyWriteFailingOnce(_ arrival: Arrival) async throws {
        // A dry run counts the writes this arrival makes; then each one fails in its own world.
        let writes = try await runArrival(arrival, failing: nil)
        try #require(writes >= 2, "the \(arrival) arrival was expected to make several writes, made \(writes)")
        for write in 1...writes {
            _ = try await runArrival(arrival, failing: write)
        }
    }

    /// Runs one arrival at Bob with write number `failing` (1 = the first write after the
    /// arrival starts) failing once, then a nudge that makes Bob retry; checks that everything
    /// arrived exactly once. Returns how many writes Bob made for the arrival.
    private func runArrival(_ arrival: Arrival, failing: Int?) async throws -> Int {
        let world = try TestWorld()
        let gate = FailingClientStores()
        let (aliceName, bobName) = (name("alice"), name("bob"))
        let alice = try world.connect(try world.device("alice"))
        let bobDevice = try world.device("bob", wrap: gate.wrap)
        var bob = try world.connect(bobDevice)
        try await alice.client.register(username: aliceName, password: password())
        try await bob.client.register(username: bobName, password: password())
        var expectedAtBob: [MessageID] = []

        // Set up everything but the arrival itself.
        switch arrival {
        case .firstText:
            break
        case .imageFromContact, .receipt:
            let hello = try await alice.client.send(text: "hello", to: bobName)
            expectedAtBob.append(hello.id)
            try await bob.waitFor("hello") { $0.messageText == "hello" }
            try await bob.client.accept(aliceName)
            try await alice.waitFor("receipt for hello") { $0.isReceipt(for: hello.id) }
        }
        let deliveredBefore = await bob.client.deliveriesHandled
        let receiptEventsBefore = alice.recorder.events.filter { $0.isReceipt(for: nil) }.count
        gate.arm(failing: failing.map { [$0] } ?? [])

        var ownMessage: HistoryEntry?
        switch arrival {
        case .firstText:
            expectedAtBob.append(try await alice.client.send(text: "first", to: bobName).id)
        case .imageFromContact:
            expectedAtBob.append(try await alice.client.send(image: PNGSample.bytes, fileName: "dot.png", to: bobName).id)
        case .receipt:
            // Bob's own message; Alice's receipt for it, waiting on the server while Bob is
            // offline, is the arrival.
            gate.arm(failing: [])
            ownMessage = try await bob.client.send(text: "from bob", to: aliceName)
            await bob.disconnect()
            try await alice.waitFor("from bob") { $0.messageText == "from bob" }
            try await waitUntil { (try? world.mailbox.usage(for: bobName).count) == 1 }
            gate.arm(failing: failing.map { [$0] } ?? [])
            bob = try world.connect(bobDevice)
            try await bob.client.logIn(username: bobName, password: password())
        }
        let receiver = bob.client
        let handledBefore = arrival == .receipt ? 0 : deliveredBefore
        try await waitUntil { await receiver.deliveriesHandled > handledBefore }
        await receiver.flushAcknowledgements()
        let writes = gate.writes
        guard let failing else { return writes }
        let failedInTransaction = bob.recorder.events.contains { if case .storageFailed = $0 { true } else { false } }
        if failedInTransaction {
            // Not acknowledged: the server still holds it.
            #expect(try world.mailbox.usage(for: bobName).count == 1, "write \(failing) of \(arrival)")
        }

        // The next push makes Bob try the deferred delivery again.
        gate.heal()
        let nudge = try await alice.client.send(text: "nudge", to: bobName)
        expectedAtBob.append(nudge.id)
        try await bob.waitFor("nudge") { $0.messageText == "nudge" }
        try await waitUntil { (try? world.mailbox.usage(for: bobName).count) == 0 }

        let history = try await bob.client.history(with: aliceName, limit: 100)
        let received = history.filter { $0.direction == .received }.map(\.id)
        #expect(received.sorted { $0.hex < $1.hex } == expectedAtBob.sorted { $0.hex < $1.hex }, "write \(failing) of \(arrival)")
        #expect(bob.recorder.events.filter(\.isDecryptionFailure).isEmpty, "write \(failing) of \(arrival)")
        // No sealed image without its history entry, none twice.
        let stored = bobDevice.memory.imageBlobs.blobs.keys.map(\.hex)
        let referenced = history.compactMap { if case .image(let reference, _, _) = $0.body { reference.blobID.hex } else { nil } }
        #expect(stored.sorted() == referenced.sorted(), "write \(failing) of \(arrival)")
        if let ownMessage {
            try await waitUntil { (try? await receiver.history(with: aliceName, limit: 100).first { $0.id == ownMessage.id }?.status) == .delivered }
            try await waitUntil { (try? bobDevice.memory.sentLog.count()) == 0 }
            #expect(alice.recorder.events.filter { $0.isReceipt(for: nil) }.count >= receiptEventsBefore)
        }
        await alice.disconnect()
        await bob.disconnect()
        return writes
    }

    @Test("a full disk while messages arrive: nothing is acknowledged, the person is told, and all arrive once space returns")
    func fullDiskThenSpace() async throws {
        let world = try TestWorld()
        let gate = FailingClientStores()
        let (aliceName, bobName) = (name("alice"), name("bob"))
        let alice = try world.connect(try world.device("alice"))
        let bobDevice = try world.device("bob", wrap: gate.wrap)
        let bob = try world.connect(bobDevice)
        try await alice.client.register(username: aliceName, password: password())
        try await bob.client.register(username: bobName, password: password())
        gate.fill()
        var sent: [MessageID] = []
        for index in 0..<5 { sent.append(try await alice.client.send(text: "while full \(index)", to: bobName).id) }
        try await waitUntil { await bob.client.deliveriesHandled == 5 }
        #expect(try world.mailbox.usage(for: bobName).count == 5)
        // Waited for, not read once: a scheduled retry takes the deferred list while it retries
        // (they fail again and go back one by one), and at sanitizer speed the check could land
        // inside one (`make asan` saw fewer than 5).
        try await waitUntil { await bob.client.deferredDeliveryCount == 5 }
        // Events reach the recorder through their own task: wait for the fifth, bounded.
        try? await waitUntil { bob.recorder.events.filter { if case .storageFailed = $0 { true } else { false } }.count >= 5 }
        let failures = bob.recorder.events.compactMap { event -> StoreError? in
            if case .storageFailed(let from, let error) = event, from == aliceName { return error }
            return nil
        }
        #expect(failures.count == 5)
        #expect(failures.allSatisfy { $0.saveFailureAdvice == "the disk is full (free some space; it will be retried)" })
        #expect(bob.recorder.events.filter(\.isDecryptionFailure).isEmpty)

        // Space returns; the client is restarted (its deferred list is gone), and the server
        // delivers everything again at login.
        gate.heal()
        await bob.disconnect()
        let bobAgain = try world.connect(bobDevice)
        #expect(try await bobAgain.client.logIn(username: bobName, password: password()) == 5)
        try await bobAgain.waitFor("the last one") { $0.messageText == "while full 4" }
        try await waitUntil { (try? world.mailbox.usage(for: bobName).count) == 0 }
        let received = try await bobAgain.client.history(with: aliceName, limit: 100).map(\.id)
        #expect(received == sent)
        await alice.disconnect()
        await bobAgain.disconnect()
    }

    @Test("a message that cannot be decrypted is asked for again and shown once, with a notice and no raw error")
    func retryRequestRecoversALostSession() async throws {
        let world = try TestWorld()
        let (aliceName, bobName) = (name("alice"), name("bob"))
        let alice = try world.connect(try world.device("alice"))
        let bobDevice = try world.device("bob")
        let bob = try world.connect(bobDevice)
        try await alice.client.register(username: aliceName, password: password())
        try await bob.client.register(username: bobName, password: password())
        try await alice.client.send(text: "hello", to: bobName)
        try await bob.waitFor("hello") { $0.messageText == "hello" }
        try await bob.client.accept(aliceName)
        let hi = try await bob.client.send(text: "hi", to: aliceName)
        try await alice.waitFor("hi") { $0.messageText == "hi" }
        // Alice's delivery receipt travels in the old session too: let it land first.
        try await bob.waitFor("receipt for hi") { $0.isReceipt(for: hi.id) }

        // Bob's device loses its sessions with Alice (say, restored from an older copy): her next
        // message, in the session she holds, has no prelude and no session here can read it.
        try bobDevice.memory.sessions.removeRecord(with: aliceName)
        let lost = try await alice.client.send(text: "can you read this?", to: bobName)
        try await bob.waitFor("the resent message") { $0.messageText == "can you read this?" }
        try await waitUntil { (try? world.mailbox.usage(for: bobName).count) == 0 }

        let notices = bob.recorder.events.compactMap { event -> Bool? in
            if case .decryptionFailed(let from, let asked) = event, from == aliceName { return asked }
            return nil
        }
        #expect(notices == [true])
        let history = try await bob.client.history(with: aliceName, limit: 100)
        #expect(history.filter { $0.id == lost.id }.count == 1)
        #expect(history.compactMap(\.text) == ["hello", "hi", "can you read this?"])
        // And the conversation goes on in the new session, both ways.
        try await bob.client.send(text: "yes, now I can", to: aliceName)
        try await alice.waitFor("yes") { $0.messageText == "yes, now I can" }
        try await alice.client.send(text: "good", to: bobName)
        try await bob.waitFor("good") { $0.messageText == "good" }
        #expect(alice.recorder.events.filter(\.isDecryptionFailure).isEmpty)
        #expect(bob.recorder.events.filter(\.isDecryptionFailure).count == 1)
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("a delivery receipt removes the message from the sender's log; a resend keeps the log bounded by it")
    func sentLogFollowsReceipts() async throws {
        let world = try TestWorld()
        let (aliceName, bobName) = (name("alice"), name("bob"))
        let aliceDevice = try world.device("alice")
        let alice = try world.connect(aliceDevice)
        let bob = try world.connect(try world.device("bob"))
        try await alice.client.register(username: aliceName, password: password())
        try await bob.client.register(username: bobName, password: password())
        let first = try await alice.client.send(text: "a request", to: bobName)
        try await bob.waitFor("request") { $0.messageText == "a request" }
        // A request gets no receipt: the entry stays until accepted.
        #expect(try aliceDevice.memory.sentLog.count() == 1)
        try await bob.client.accept(aliceName)
        try await alice.waitFor("receipt") { $0.isReceipt(for: first.id) }
        try await waitUntil { (try? aliceDevice.memory.sentLog.count()) == 0 }
        await alice.disconnect()
        await bob.disconnect()
    }
}

extension ClientEvent {
    var isDecryptionFailure: Bool {
        if case .decryptionFailed = self { return true }
        return false
    }

    /// A delivery receipt naming `id` (any receipt when nil).
    func isReceipt(for id: MessageID?) -> Bool {
        guard case .receipts(_, let ids, .delivered) = self else { return false }
        return id.map { ids.contains($0.hex) } ?? true
    }
}

extension HistoryEntry {
    var text: String? {
        if case .text(let text) = body { return text }
        return nil
    }
}
