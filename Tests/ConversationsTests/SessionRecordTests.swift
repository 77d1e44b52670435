import Conversations
import Envelope
import InMemoryStore
import Prekeys
import Primitives
import Testing

/// Session records: several sessions per peer, so that two people who start at once converge.
@Suite("Session records")
struct SessionRecordTests {
    let env = TestEnvironment(seed: 8)

    func text(_ body: String) -> MessageContent {
        MessageContent(id: MessageID.random(using: env.random), sentAt: Timestamp(millisecondsSinceEpoch: 1), body: .text(body))
    }

    func prekeys(of user: TestUser, for envelope: CiphertextEnvelope) throws -> SessionCipher.ResponderPrekeys? {
        guard let prelude = envelope.prelude else { return nil }
        return SessionCipher.ResponderPrekeys(
            signedPrekeys: try user.keys.signedPrekeyPairs(),
            oneTimePrekey: try prelude.oneTimePrekeyID.flatMap { id throws(StoreError) in try user.keys.oneTimePrekeyPair(id: id) },
            kemPrekey: try prelude.kem.flatMap { kem throws(StoreError) in try user.keys.kemPrekeyPair(id: kem.prekeyID) })
    }

    /// One side of a conversation: its record with the peer, updated as a client would store it.
    final class Side {
        let user: TestUser
        var record: SessionRecord
        init(_ user: TestUser, peer: Username) {
            self.user = user
            record = SessionRecord(peer: peer)
        }
    }

    func send(_ body: String, from side: Side, to peer: TestUser) throws -> CiphertextEnvelope {
        var session: Session
        if let current = side.record.current, current.ratchet.canSend {
            session = current
        } else {
            let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(peer.fetchBundle())
            session = try env.cipher.startSession(with: bundle, peer: peer.name, localUsername: side.user.name, localIdentity: side.user.identity)
        }
        let envelope = try env.cipher.encrypt(text(body), in: &session)
        side.record.promote(session)
        return envelope
    }

    func receive(_ envelope: CiphertextEnvelope, at side: Side, from sender: TestUser) throws -> String {
        let inbound = try env.cipher.decrypt(
            envelope, from: sender.name, record: side.record, localUsername: side.user.name, localIdentity: side.user.identity, prekeys: prekeys(of: side.user, for: envelope))
        side.record = inbound.record
        if let used = inbound.oneTimePrekeyToErase { try side.user.keys.removeOneTimePrekeyPair(id: used) }
        guard case .text(let text) = inbound.content.body else { return "" }
        return text
    }

    @Test("both start a session at once: each archives its own, every later message reads, and they converge")
    func simultaneousStartConverges() throws {
        let erinUser = try env.makeUser("erin")
        let finnUser = try env.makeUser("finn")
        let erin = Side(erinUser, peer: finnUser.name)
        let finn = Side(finnUser, peer: erinUser.name)
        let fromErin = try send("erin first", from: erin, to: finnUser)
        let fromFinn = try send("finn first", from: finn, to: erinUser)
        #expect(try receive(fromFinn, at: erin, from: finnUser) == "finn first")
        #expect(try receive(fromErin, at: finn, from: erinUser) == "erin first")
        // Each now sends in the session the other started, and keeps its own as a previous one.
        #expect(erin.record.previous.count == 1)
        #expect(finn.record.previous.count == 1)

        // Crossing again, and then taking turns: everything decrypts.
        for round in 0..<4 {
            let a = try send("erin \(round)", from: erin, to: finnUser)
            let b = try send("finn \(round)", from: finn, to: erinUser)
            #expect(try receive(a, at: finn, from: erinUser) == "erin \(round)")
            #expect(try receive(b, at: erin, from: finnUser) == "finn \(round)")
            let c = try send("erin reply \(round)", from: erin, to: finnUser)
            #expect(try receive(c, at: finn, from: erinUser) == "erin reply \(round)")
            let d = try send("finn reply \(round)", from: finn, to: erinUser)
            #expect(try receive(d, at: erin, from: finnUser) == "finn reply \(round)")
        }
        // Converged: both send in the same session (one base key).
        #expect(erin.record.current?.baseKey == finn.record.current?.baseKey)
    }

    @Test("a message in a previous session decrypts and promotes it; a replay there is still a duplicate")
    func previousSessionPromoted() throws {
        let aliceUser = try env.makeUser("alice")
        let bobUser = try env.makeUser("bob")
        let alice = Side(aliceUser, peer: bobUser.name)
        let bob = Side(bobUser, peer: aliceUser.name)
        let first = try send("one", from: alice, to: bobUser)
        let late = try send("two", from: alice, to: bobUser)
        #expect(try receive(first, at: bob, from: aliceUser) == "one")
        let oldSession = try #require(bob.record.current)
        // Alice starts over (say she lost her state): Bob's first session becomes a previous one.
        let restarted = Side(aliceUser, peer: bobUser.name)
        let fresh = try send("three", from: restarted, to: bobUser)
        #expect(try receive(fresh, at: bob, from: aliceUser) == "three")
        #expect(bob.record.previous.first?.baseKey == oldSession.baseKey)
        // A late message of the first session still reads, and makes that session current again.
        #expect(try receive(late, at: bob, from: aliceUser) == "two")
        #expect(bob.record.current?.baseKey == oldSession.baseKey)
        let before = bob.record
        #expect(throws: DecryptionError.self) { try receive(late, at: bob, from: aliceUser) }
        #expect(bob.record == before)
    }

    @Test("a plain message no session can read is refused with the current session's error; nothing changes")
    func unreadableLeavesRecordUnchanged() throws {
        let aliceUser = try env.makeUser("alice")
        let bobUser = try env.makeUser("bob")
        let alice = Side(aliceUser, peer: bobUser.name)
        let bob = Side(bobUser, peer: aliceUser.name)
        #expect(try receive(try send("hi", from: alice, to: bobUser), at: bob, from: aliceUser) == "hi")
        #expect(try receive(try send("hi back", from: bob, to: aliceUser), at: alice, from: bobUser) == "hi back")
        let plain = try send("no prelude now", from: alice, to: bobUser)
        #expect(plain.prelude == nil)
        let empty = SessionRecord(peer: aliceUser.name)
        #expect(throws: DecryptionError.noSession) {
            try env.cipher.decrypt(plain, from: aliceUser.name, record: empty, localUsername: bobUser.name, localIdentity: bobUser.identity, prekeys: nil)
        }
        let stranger = try env.makeUser("carol")
        let unrelated = Side(stranger, peer: aliceUser.name)
        _ = try receive(try send("x", from: Side(aliceUser, peer: stranger.name), to: stranger), at: unrelated, from: aliceUser)
        let record = unrelated.record
        #expect(throws: DecryptionError.authenticationFailed) {
            try env.cipher.decrypt(plain, from: aliceUser.name, record: record, localUsername: stranger.name, localIdentity: stranger.identity, prekeys: nil)
        }
    }

    @Test("at most 40 previous sessions are kept, the oldest dropped; sessions of another identity go")
    func boundsAndIdentity() throws {
        let bobUser = try env.makeUser("bob", oneTimePrekeys: 0)
        let alice = try env.makeUser("alice")
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bobUser.fetchBundle())
        let sessions = try (0..<45).map { _ in try env.cipher.startSession(with: bundle, peer: bobUser.name, localUsername: alice.name, localIdentity: alice.identity) }
        var record = SessionRecord(peer: bobUser.name)
        for session in sessions { record.promote(session) }
        #expect(record.current == sessions[44])
        #expect(record.previous.count == ConversationLimits.maxPreviousSessions)
        #expect(record.previous.first == sessions[43])
        #expect(record.previous.last == sessions[4])
        // Promoting a held session moves it, without a copy.
        record.promote(sessions[10])
        #expect(record.current == sessions[10])
        #expect(record.sessions.filter { $0.baseKey == sessions[10].baseKey }.count == 1)

        let impostor = try env.makeUser("bob", oneTimePrekeys: 0)
        let other = try env.cipher.startSession(
            with: try PrekeyBundleVerifier(crypto: env.crypto).verify(impostor.fetchBundle()), peer: bobUser.name, localUsername: alice.name, localIdentity: alice.identity)
        record.promote(other)
        #expect(record.current == other)
        #expect(record.previous.isEmpty)
    }

    @Test("records round-trip; a schema-1 bare session decodes as a record; bad encodings are refused")
    func encoding() throws {
        let alice = try env.makeUser("alice")
        let bobUser = try env.makeUser("bob")
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bobUser.fetchBundle())
        let first = try env.cipher.startSession(with: bundle, peer: bobUser.name, localUsername: alice.name, localIdentity: alice.identity)
        let second = try env.cipher.startSession(with: bundle, peer: bobUser.name, localUsername: alice.name, localIdentity: alice.identity)
        let record = SessionRecord(peer: bobUser.name, current: second, previous: [first])
        #expect(try SessionRecord(deserializing: record.serialized()) == record)
        #expect(try SessionRecord(deserializing: SessionRecord(peer: bobUser.name).serialized()) == SessionRecord(peer: bobUser.name))
        #expect(record.serialized().unsafeExportBytes().first == SessionRecord.encodingVersion)

        let legacy = first.serialized()
        #expect(legacy.unsafeExportBytes().first == Session.encodingVersion)
        #expect(try SessionRecord(deserializing: legacy) == SessionRecord(peer: bobUser.name, current: first))

        let bytes = record.serialized().unsafeExportBytes()
        for length in 0..<bytes.count {
            #expect(throws: DecodingError.self) { try SessionRecord(deserializing: SecretBytes(copying: bytes.prefix(length))) }
        }
        #expect(throws: DecodingError.self) { try SessionRecord(deserializing: SecretBytes(copying: bytes + [0])) }
        var unknown = bytes
        unknown[0] = 9
        #expect(throws: DecodingError.self) { try SessionRecord(deserializing: SecretBytes(copying: unknown)) }
        // A record that claims more previous sessions than the limit.
        var writer = ByteWriter()
        writer.write(SessionRecord.encodingVersion)
        writer.writeString("bob")
        writer.write(false)
        writer.write(UInt8(41))
        #expect(throws: DecodingError.tooLong(field: "previous sessions", length: 41, limit: 40)) {
            try SessionRecord(deserializing: SecretBytes(copying: writer.bytes))
        }
    }
}
