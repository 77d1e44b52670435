import ClientCore
import Conversations
import Envelope
import Primitives
import Testing

/// The one command model (`ClientCommandExecutor`), the durable event log written with each
/// delivery, and the awaitable "deliveries handled" that replaced `receive`'s polling.
@Suite("Command model and event log", .shutsDownConnections, .timeLimit(.minutes(2)))
struct CommandModelTests {
    @Test("Every delivery's event is in the log once, in order, with growing cursors; a re-login adds none")
    func deliveriesAreLoggedInTheirTransaction() async throws {
        let world = try TestWorld()
        let (aliceDevice, bobDevice) = (try world.device("alice"), try world.device("bob"))
        let alice = try world.connect(aliceDevice)
        try await alice.client.register(username: name("alice"), password: password())
        let bob = try world.connect(bobDevice)
        try await bob.client.register(username: name("bob"), password: password())
        await bob.disconnect()
        let executor = ClientCommandExecutor(client: alice.client)
        for text in ["one", "two", "three"] {
            guard case .sent(let entry) = try await executor.execute(.send(to: name("bob"), text: text)) else {
                Issue.record("send did not answer with the sent message")
                return
            }
            #expect(entry.direction == .sent)
        }

        let bobAgain = try world.connect(bobDevice)
        let pending = try await bobAgain.client.logIn(username: name("bob"), password: password())
        #expect(await bobAgain.client.waitUntilHandled(pending, timeout: .seconds(10)))
        // Nothing more is coming: the wait ends at its timeout and says so.
        #expect(await bobAgain.client.waitUntilHandled(pending + 1, timeout: .milliseconds(50)) == false)
        let logged = try bobDevice.stores.eventLog.events(after: 0, limit: 100)
        let texts = logged.compactMap { event -> String? in
            if case .message(let entry) = event.event, case .text(let text) = entry.body { return text }
            return nil
        }
        #expect(texts == ["one", "two", "three"])
        #expect(logged.map(\.cursor) == logged.map(\.cursor).sorted())
        #expect(logged.contains { $0.event == .connection(connected: true, reason: "logged in") })

        // Accepting through the executor sends receipts; Alice's log tells of them.
        let accepted = try await ClientCommandExecutor(client: bobAgain.client).execute(.accept(name("alice")))
        #expect(accepted == .contactChanged(.accepted, name("alice")))
        try await waitUntil {
            (try? aliceDevice.stores.eventLog.events(after: 0, limit: 100))?.contains { logged in
                if case .receipts(let peer, let ids, .delivered) = logged.event { return peer == name("bob") && ids.count == 3 }
                return false
            } == true
        }
        let before = try bobDevice.stores.eventLog.latestCursor()
        await bobAgain.disconnect()
        let third = try world.connect(bobDevice)
        _ = try await third.client.logIn(username: name("bob"), password: password())
        let after = try bobDevice.stores.eventLog.events(after: before, limit: 100)
        #expect(after.allSatisfy { if case .message = $0.event { false } else { true } }, "a re-login logged a message again")
    }

    @Test("The executor answers each command with its one result shape")
    func executorResults() async throws {
        let world = try TestWorld()
        let alice = try world.connect(try world.device("alice"))
        try await alice.client.register(username: name("alice"), password: password())
        let executor = ClientCommandExecutor(client: alice.client)
        #expect(try await executor.execute(.contacts) == .contacts([]))
        #expect(try await executor.execute(.requests) == .requests([]))
        #expect(try await executor.execute(.history(with: name("bob"), limit: 5)) == .messages(peer: name("bob"), []))
        #expect(try await executor.execute(.version) == .version(ParleyVersion.current))
        await #expect(throws: ClientError.unknownContact(name("bob"))) { try await executor.execute(.safetyNumber(name("bob"))) }
        await #expect(throws: ClientError.invalidMessage("nothing to send")) { try await executor.execute(.send(to: name("bob"), text: "")) }
    }
}
