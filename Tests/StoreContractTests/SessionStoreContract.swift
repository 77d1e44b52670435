import Conversations
import Primitives
import Testing

/// Makes a fresh, empty ``SessionStore``.
public typealias SessionStoreFactory = @Sendable () throws -> any SessionStore

/// The behaviour every ``SessionStore`` adapter must have: a record comes back equal (its current
/// and previous sessions, ratchet secrets, skipped keys and pending preludes included), in order,
/// and keeps working.
public enum SessionStoreContract {
    public static let checks: [ContractCheck<SessionStoreFactory>] = [
        ContractCheck("there is no record with a peer until one is saved") { make in
            let store = try make()
            #expect(try store.record(with: user("bob")) == nil)
            try store.removeRecord(with: user("bob"))
        },
        ContractCheck("a saved record loads back equal, with its pending prelude and skipped keys") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            let conversation = try ClientFixture(seed: 21).conversation(initiator: alice, responder: bob)
            #expect(conversation.initiator.pendingPrelude != nil)
            #expect(conversation.responder.ratchet.skippedMessageKeyCount == 2)
            try store.saveRecord(SessionRecord(peer: bob, current: conversation.initiator))
            try store.saveRecord(SessionRecord(peer: alice, current: conversation.responder))
            #expect(try store.record(with: bob) == SessionRecord(peer: bob, current: conversation.initiator))
            #expect(try store.record(with: alice) == SessionRecord(peer: alice, current: conversation.responder))
        },
        ContractCheck("previous sessions come back in order, and an empty record stays empty") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            let fixture = try ClientFixture(seed: 25)
            let sessions = try (0..<3).map { _ in try fixture.conversation(initiator: alice, responder: bob).initiator }
            let record = SessionRecord(peer: bob, current: sessions[2], previous: [sessions[1], sessions[0]])
            try store.saveRecord(record)
            #expect(try store.record(with: bob) == record)
            try store.saveRecord(SessionRecord(peer: alice))
            #expect(try store.record(with: alice)?.isEmpty == true)
        },
        ContractCheck("a loaded record still decrypts with the skipped keys of a previous session") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            let fixture = try ClientFixture(seed: 22)
            let conversation = try fixture.conversation(initiator: alice, responder: bob)
            let later = try fixture.conversation(initiator: alice, responder: bob).responder
            // The session that can read the delayed messages is archived behind a newer one.
            try store.saveRecord(SessionRecord(peer: alice, current: later, previous: [conversation.responder]))
            let loaded = try #require(try store.record(with: alice))
            let content = try fixture.decrypt(conversation.delayed[0], in: loaded, from: alice, to: conversation.responderName, identity: conversation.responderIdentity)
            #expect(content.body == .text("message 0"))
        },
        ContractCheck("saving again replaces the peer's record; other peers are untouched") { make in
            let store = try make()
            let (alice, bob, carol) = (try user("alice"), try user("bob"), try user("carol"))
            let fixture = try ClientFixture(seed: 23)
            let older = SessionRecord(peer: bob, current: try fixture.conversation(initiator: alice, responder: bob).initiator)
            let newer = SessionRecord(peer: bob, current: try fixture.conversation(initiator: alice, responder: bob).initiator)
            let other = SessionRecord(peer: carol, current: try fixture.conversation(initiator: alice, responder: carol).initiator)
            #expect(older != newer)
            try store.saveRecord(older)
            try store.saveRecord(other)
            try store.saveRecord(newer)
            #expect(try store.record(with: bob) == newer)
            #expect(try store.record(with: carol) == other)
        },
        ContractCheck("removing a record removes that peer's only") { make in
            let store = try make()
            let (alice, bob, carol) = (try user("alice"), try user("bob"), try user("carol"))
            let fixture = try ClientFixture(seed: 24)
            let withBob = SessionRecord(peer: bob, current: try fixture.conversation(initiator: alice, responder: bob).initiator)
            let withCarol = SessionRecord(peer: carol, current: try fixture.conversation(initiator: alice, responder: carol).initiator)
            try store.saveRecord(withBob)
            try store.saveRecord(withCarol)
            try store.removeRecord(with: bob)
            #expect(try store.record(with: bob) == nil)
            #expect(try store.record(with: carol) == withCarol)
        },
    ]
}
