import Conversations
import Primitives
import Testing

/// Makes a fresh, empty ``SessionStore``.
public typealias SessionStoreFactory = @Sendable () throws -> any SessionStore

/// The behaviour every ``SessionStore`` adapter must have: a session comes back equal, ratchet
/// secrets, skipped keys and pending prelude included, and keeps working.
public enum SessionStoreContract {
    public static let checks: [ContractCheck<SessionStoreFactory>] = [
        ContractCheck("there is no session with a peer until one is saved") { make in
            let store = try make()
            #expect(try store.session(with: user("bob")) == nil)
            try store.removeSession(with: user("bob"))
        },
        ContractCheck("a saved session loads back equal, with its pending prelude and skipped keys") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            let conversation = try ClientFixture(seed: 21).conversation(initiator: alice, responder: bob)
            #expect(conversation.initiator.pendingPrelude != nil)
            #expect(conversation.responder.ratchet.skippedMessageKeyCount == 2)
            try store.saveSession(conversation.initiator)
            try store.saveSession(conversation.responder)
            #expect(try store.session(with: bob) == conversation.initiator)
            #expect(try store.session(with: alice) == conversation.responder)
        },
        ContractCheck("a loaded session still decrypts with the skipped keys it was saved with") { make in
            let store = try make()
            let (alice, bob) = (try user("alice"), try user("bob"))
            let fixture = try ClientFixture(seed: 22)
            let conversation = try fixture.conversation(initiator: alice, responder: bob)
            try store.saveSession(conversation.responder)
            let loaded = try #require(try store.session(with: alice))
            let content = try fixture.decrypt(conversation.delayed[0], in: loaded, from: alice, identity: conversation.responderIdentity)
            #expect(content.body == .text("message 0"))
        },
        ContractCheck("saving again replaces the peer's session; other peers are untouched") { make in
            let store = try make()
            let (alice, bob, carol) = (try user("alice"), try user("bob"), try user("carol"))
            let fixture = try ClientFixture(seed: 23)
            let older = try fixture.conversation(initiator: alice, responder: bob).initiator
            let newer = try fixture.conversation(initiator: alice, responder: bob).initiator
            let other = try fixture.conversation(initiator: alice, responder: carol).initiator
            #expect(older != newer)
            try store.saveSession(older)
            try store.saveSession(other)
            try store.saveSession(newer)
            #expect(try store.session(with: bob) == newer)
            #expect(try store.session(with: carol) == other)
        },
        ContractCheck("removing a session removes that peer's only") { make in
            let store = try make()
            let (alice, bob, carol) = (try user("alice"), try user("bob"), try user("carol"))
            let fixture = try ClientFixture(seed: 24)
            let withBob = try fixture.conversation(initiator: alice, responder: bob).initiator
            let withCarol = try fixture.conversation(initiator: alice, responder: carol).initiator
            try store.saveSession(withBob)
            try store.saveSession(withCarol)
            try store.removeSession(with: bob)
            #expect(try store.session(with: bob) == nil)
            #expect(try store.session(with: carol) == withCarol)
        },
    ]
}
