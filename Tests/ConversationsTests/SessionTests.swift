import Conversations
import Envelope
import InMemoryStore
import Prekeys
import Primitives
import Testing

/// Session establishment and the Double Ratchet's behaviour, on in-memory adapters.
@Suite("Sessions")
struct SessionTests {
    let env = TestEnvironment()

    /// Alice starts with Bob (offline) from a fetched bundle; returns both sessions after Bob has
    /// received Alice's first message.
    func establish(alice: TestUser, bob: TestUser) throws -> (alice: Session, bob: Session) {
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        var aliceSession = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let first = try env.cipher.encrypt(text("hello bob"), in: &aliceSession)
        let inbound = try env.cipher.decrypt(first, from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(inbound.content.body == .text("hello bob"))
        return (aliceSession, inbound.session)
    }

    @Test("a first message relayed under another sender's name, or read as another recipient, does not decrypt and leaves the prekeys in place")
    func usernamesAreBoundIntoTheAssociatedData() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        let mallory = try env.makeUser("mallory")
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        var aliceSession = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let first = try env.cipher.encrypt(text("meet me at noon"), in: &aliceSession)
        let otpkID = try #require(first.prelude?.oneTimePrekeyID)
        // The server (or anyone relaying it) says the message is mallory's.
        #expect(throws: DecryptionError.authenticationFailed) {
            try env.cipher.decrypt(first, from: mallory.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
        // Bob's keys, but the account alice wrote to was another name.
        #expect(throws: DecryptionError.authenticationFailed) {
            try env.cipher.decrypt(first, from: alice.name, existing: nil, localUsername: try Username("bob.copy"), localIdentity: bob.identity, keys: bob.keys)
        }
        #expect(try bob.keys.oneTimePrekeyPair(id: otpkID) != nil)
        let inbound = try env.cipher.decrypt(first, from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(inbound.content.body == .text("meet me at noon"))
        #expect(aliceSession.ratchet.associatedData == X3DH.associatedData(
            initiator: (alice.identity.publicKey, alice.name), responder: (bob.identity.publicKey, bob.name)))
    }

    @Test("Alice starts a session while Bob is offline; his one-time prekey is used exactly once")
    func offlineStartConsumesOneTimePrekeyOnce() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob", oneTimePrekeys: 2)
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        #expect(bob.server.count == 1)
        let otpkID = try #require(bundle.oneTimePrekey?.id)
        var aliceSession = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        // Alice sends three messages before Bob is ever online; all carry the prelude.
        let envelopes = try (0..<3).map { index in try env.cipher.encrypt(text("m\(index)", id: UInt8(index)), in: &aliceSession) }
        #expect(envelopes.allSatisfy { $0.prelude?.oneTimePrekeyID == otpkID })

        let inbound = try env.cipher.decrypt(envelopes[0], from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(inbound.startedNewSession)
        #expect(inbound.oneTimePrekeyToErase == otpkID)
        // The test plays the client here; ReceivePathTests checks that the client itself erases it.
        try bob.keys.removeOneTimePrekeyPair(id: otpkID)
        // The later messages of the same session decrypt within it, though they repeat the prelude.
        var bobSession = inbound.session
        for (index, envelope) in envelopes.enumerated().dropFirst() {
            let next = try env.cipher.decrypt(envelope, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
            #expect(!next.startedNewSession)
            #expect(next.content.body == .text("m\(index)"))
            bobSession = next.session
        }
        // A replay of the first message as a new session fails: its one-time prekey is erased.
        #expect(throws: DecryptionError.unknownPrekey(signedPrekeyID: bundle.signedPrekey.id, oneTimePrekeyID: otpkID)) {
            try env.cipher.decrypt(envelopes[0], from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
    }

    @Test("with no one-time prekey left, X3DH runs without DH4 and still works")
    func noOneTimePrekey() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob", oneTimePrekeys: 0)
        let bundle = try PrekeyBundleVerifier(crypto: env.crypto).verify(bob.fetchBundle())
        #expect(bundle.oneTimePrekey == nil)
        var session = try env.cipher.startSession(with: bundle, peer: bob.name, localUsername: alice.name, localIdentity: alice.identity)
        let envelope = try env.cipher.encrypt(text("no otpk"), in: &session)
        #expect(envelope.prelude?.oneTimePrekeyID == nil)
        let inbound = try env.cipher.decrypt(envelope, from: alice.name, existing: nil, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(inbound.content.body == .text("no otpk"))
        #expect(inbound.oneTimePrekeyToErase == nil)
    }

    @Test("a bundle whose signed prekey signature is bad is refused")
    func badSignedPrekeySignature() throws {
        let bob = try env.makeUser("bob")
        let mallory = try env.makeUser("mallory")
        let genuine = bob.fetchBundle()
        // Mallory substitutes her signed prekey (validly signed by her, not by Bob).
        let forged = UnverifiedPrekeyBundle(identityKey: bob.identity.publicKey, signedPrekey: mallory.signedPrekey, oneTimePrekey: genuine.oneTimePrekey)
        #expect(throws: PrekeyError.invalidSignature(signedPrekeyID: mallory.signedPrekey.id)) {
            try PrekeyBundleVerifier(crypto: env.crypto).verify(forged)
        }
        var flipped = genuine.signedPrekey.signature.bytes
        flipped[0] ^= 1
        let tampered = UnverifiedPrekeyBundle(
            identityKey: bob.identity.publicKey,
            signedPrekey: SignedPrekey(id: genuine.signedPrekey.id, publicKey: genuine.signedPrekey.publicKey, signature: try Ed25519Signature(bytes: flipped)),
            oneTimePrekey: nil)
        #expect(throws: PrekeyError.invalidSignature(signedPrekeyID: genuine.signedPrekey.id)) {
            try PrekeyBundleVerifier(crypto: env.crypto).verify(tampered)
        }
    }

    @Test("a long back-and-forth with many DH ratchet turns; state survives serialisation at every step")
    func longConversationWithSerialisation() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (aliceSession, bobSession) = try establish(alice: alice, bob: bob)
        var ratchetKeysSeen = Set<X25519PublicKey>()
        let pattern = [1, 3, 2, 1, 1, 5, 4, 2, 1, 1, 3, 2]
        var counter = 0
        for (turn, count) in pattern.enumerated() {
            let aliceSends = turn % 2 == 1
            for _ in 0..<count {
                counter += 1
                let message = "message \(counter) " + String(repeating: "x", count: counter * 7)
                if aliceSends {
                    let envelope = try env.cipher.encrypt(text(message), in: &aliceSession)
                    ratchetKeysSeen.insert(envelope.header.ratchetKey)
                    let inbound = try env.cipher.decrypt(envelope, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
                    #expect(inbound.content.body == .text(message))
                    bobSession = inbound.session
                } else {
                    let envelope = try env.cipher.encrypt(text(message), in: &bobSession)
                    #expect(envelope.prelude == nil)
                    ratchetKeysSeen.insert(envelope.header.ratchetKey)
                    let inbound = try env.cipher.decrypt(envelope, from: bob.name, existing: aliceSession, localUsername: alice.name, localIdentity: alice.identity, keys: alice.keys)
                    #expect(inbound.content.body == .text(message))
                    aliceSession = inbound.session
                }
                // Round-trip both states through their serialised form after every message.
                aliceSession = try Session(deserializing: aliceSession.serialized())
                bobSession = try Session(deserializing: bobSession.serialized())
            }
        }
        // Every turn used a fresh ratchet key, and Alice dropped the prelude once Bob answered.
        #expect(ratchetKeysSeen.count == pattern.count)
        #expect(aliceSession.pendingPrelude == nil)
    }

    @Test("out-of-order and lost messages decrypt with skipped keys; each key works once")
    func outOfOrderAndLost() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (aliceSession, bobSession) = try establish(alice: alice, bob: bob)
        let envelopes = try (0..<6).map { try env.cipher.encrypt(text("n\($0)", id: UInt8($0 + 1)), in: &aliceSession) }
        // Deliver 4, 1, 5, 0 (2 and 3 are lost).
        for index in [4, 1, 5, 0] {
            let inbound = try env.cipher.decrypt(envelopes[index], from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
            #expect(inbound.content.body == .text("n\(index)"))
            bobSession = inbound.session
        }
        #expect(bobSession.ratchet.skippedMessageKeyCount == 2)
        // A new turn from Bob and back: the keys of the lost messages are still usable afterwards.
        let reply = try env.cipher.encrypt(text("ack"), in: &bobSession)
        aliceSession = try env.cipher.decrypt(reply, from: bob.name, existing: aliceSession, localUsername: alice.name, localIdentity: alice.identity, keys: alice.keys).session
        let late = try env.cipher.decrypt(envelopes[3], from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(late.content.body == .text("n3"))
        bobSession = late.session
        // Replaying a delivered message fails: its key is gone.
        #expect(throws: DecryptionError.self) {
            try env.cipher.decrypt(envelopes[3], from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
        #expect(throws: DecryptionError.self) {
            try env.cipher.decrypt(envelopes[4], from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
    }

    @Test("after a message is decrypted its key is gone: the same ciphertext fails again")
    func messageKeyIsConsumed() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (aliceSession, bobSession) = try establish(alice: alice, bob: bob)
        let envelope = try env.cipher.encrypt(text("once"), in: &aliceSession)
        bobSession = try env.cipher.decrypt(envelope, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys).session
        #expect(throws: DecryptionError.duplicateMessage(messageNumber: envelope.header.messageNumber)) {
            try env.cipher.decrypt(envelope, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
    }

    @Test("tampered header, ciphertext or associated data is rejected and leaves the state exactly as it was")
    func tamperingLeavesStateUnchanged() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (aliceSession, bobSession) = try establish(alice: alice, bob: bob)
        let reply = try env.cipher.encrypt(text("turn"), in: &bobSession)
        aliceSession = try env.cipher.decrypt(reply, from: bob.name, existing: aliceSession, localUsername: alice.name, localIdentity: alice.identity, keys: alice.keys).session
        let envelope = try env.cipher.encrypt(text("genuine"), in: &aliceSession)
        let before = bobSession.serialized()

        var ciphertext = envelope.ciphertext
        ciphertext[0] ^= 0x01
        let otherKey = try env.crypto.generateX25519KeyPair(using: env.random).publicKey
        let forgeries = [
            CiphertextEnvelope(prelude: nil, header: envelope.header, ciphertext: ciphertext),
            CiphertextEnvelope(prelude: nil, header: RatchetHeader(ratchetKey: envelope.header.ratchetKey, previousChainLength: envelope.header.previousChainLength, messageNumber: envelope.header.messageNumber + 1), ciphertext: envelope.ciphertext),
            CiphertextEnvelope(prelude: nil, header: RatchetHeader(ratchetKey: envelope.header.ratchetKey, previousChainLength: envelope.header.previousChainLength + 1, messageNumber: envelope.header.messageNumber), ciphertext: envelope.ciphertext),
            // A forged new ratchet key would trigger a DH step: it must be rolled back too.
            CiphertextEnvelope(prelude: nil, header: RatchetHeader(ratchetKey: otherKey, previousChainLength: 0, messageNumber: 0), ciphertext: envelope.ciphertext),
        ]
        for forgery in forgeries {
            #expect(throws: DecryptionError.authenticationFailed) {
                try env.cipher.decrypt(forgery, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
            }
            // The cipher works on a copy of the session, so the roll-back that matters is the
            // ratchet's own: call the mutating ratchet directly and compare it after the throw.
            var ratchet = bobSession.ratchet
            #expect(throws: DecryptionError.authenticationFailed) {
                try ratchet.decrypt(header: forgery.header, ciphertext: forgery.ciphertext, crypto: env.crypto, random: env.random)
            }
            #expect(ratchet == bobSession.ratchet)
            #expect(bobSession.serialized() == before)
        }
        // Different associated data (a session bound to other identities) fails the same way.
        var wrongAD = try Session(deserializing: bobSession.serialized())
        wrongAD = try swapAssociatedData(of: wrongAD)
        #expect(throws: DecryptionError.authenticationFailed) {
            try env.cipher.decrypt(envelope, from: alice.name, existing: wrongAD, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
        // The genuine message still decrypts afterwards.
        let inbound = try env.cipher.decrypt(envelope, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        #expect(inbound.content.body == .text("genuine"))
    }

    /// A copy of `session` whose associated data has one bit flipped, via its serialised form.
    func swapAssociatedData(of session: Session) throws -> Session {
        var bytes = session.serialized().unsafeExportBytes()
        // The associated data IK_A || IK_B || len || name_A || len || name_B appears once in the
        // ratchet encoding, after its u32 length (here the responder's: IK_A is the peer's key).
        let keys = session.peerIdentityKey.bytes + session.localIdentityKey.bytes
        guard let index = (0..<(bytes.count - 68)).first(where: { start in
            let length = bytes[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
            return length > 64 && length <= 200 && Array(bytes[start + 4..<start + 4 + 64]) == keys
        }) else {
            throw StoreError.notFound("associated data")
        }
        bytes[index + 4] ^= 0x01
        return try Session(deserializing: SecretBytes(copying: bytes))
    }

    @Test("skipping more than MAX_SKIP messages in one chain is refused, state unchanged")
    func maxSkipExceeded() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (aliceSession, bobSession) = try establish(alice: alice, bob: bob)
        let genuine = try env.cipher.encrypt(text("x"), in: &aliceSession)
        let far = CiphertextEnvelope(
            prelude: nil,
            header: RatchetHeader(ratchetKey: genuine.header.ratchetKey, previousChainLength: 0, messageNumber: genuine.header.messageNumber + ConversationLimits.maxSkip + 1),
            ciphertext: genuine.ciphertext)
        let before = bobSession.serialized()
        // Bob has received message 0, so reaching number 1002 would skip 1001 keys.
        #expect(throws: DecryptionError.tooManySkippedMessages(requested: ConversationLimits.maxSkip + 1, limit: ConversationLimits.maxSkip)) {
            try env.cipher.decrypt(far, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
        // The same through the mutating ratchet itself, which must roll back on the throw.
        var ratchet = bobSession.ratchet
        #expect(throws: DecryptionError.tooManySkippedMessages(requested: ConversationLimits.maxSkip + 1, limit: ConversationLimits.maxSkip)) {
            try ratchet.decrypt(header: far.header, ciphertext: far.ciphertext, crypto: env.crypto, random: env.random)
        }
        #expect(ratchet == bobSession.ratchet)
        // A new ratchet key gets further before the limit trips: it keeps a skipped key of the
        // current chain and takes a DH step, then finds the new chain too far ahead. All of that
        // must be rolled back.
        let stepThenFar = RatchetHeader(
            ratchetKey: try env.crypto.generateX25519KeyPair(using: env.random).publicKey,
            previousChainLength: genuine.header.messageNumber + 1, messageNumber: ConversationLimits.maxSkip + 1)
        #expect(throws: DecryptionError.tooManySkippedMessages(requested: ConversationLimits.maxSkip + 1, limit: ConversationLimits.maxSkip)) {
            try ratchet.decrypt(header: stepThenFar, ciphertext: genuine.ciphertext, crypto: env.crypto, random: env.random)
        }
        #expect(ratchet == bobSession.ratchet)
        #expect(ratchet.skippedMessageKeyCount == 0)
        #expect(bobSession.serialized() == before)
        // Exactly MAX_SKIP skipped keys is allowed.
        bobSession = try env.cipher.decrypt(genuine, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys).session
        for _ in 0..<Int(ConversationLimits.maxSkip) { _ = try env.cipher.encrypt(text("lost"), in: &aliceSession) }
        let last = try env.cipher.encrypt(text("after 1000 lost"), in: &aliceSession)
        bobSession = try env.cipher.decrypt(last, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys).session
        #expect(bobSession.ratchet.skippedMessageKeyCount == Int(ConversationLimits.maxSkip))
    }

    @Test("at most 2000 skipped keys are stored per session, oldest evicted")
    func skippedKeysAreBounded() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (aliceSession, bobSession) = try establish(alice: alice, bob: bob)
        var firstLost: CiphertextEnvelope?
        // Three chains of 900 lost messages each (Bob replies in between to turn the ratchet).
        for round in 0..<3 {
            for index in 0..<900 {
                let envelope = try env.cipher.encrypt(text("lost"), in: &aliceSession)
                if round == 0 && index == 0 { firstLost = envelope }
            }
            let arriving = try env.cipher.encrypt(text("arrives \(round)"), in: &aliceSession)
            bobSession = try env.cipher.decrypt(arriving, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys).session
            let reply = try env.cipher.encrypt(text("reply"), in: &bobSession)
            aliceSession = try env.cipher.decrypt(reply, from: bob.name, existing: aliceSession, localUsername: alice.name, localIdentity: alice.identity, keys: alice.keys).session
        }
        #expect(bobSession.ratchet.skippedMessageKeyCount == ConversationLimits.maxSkippedMessageKeys)
        // The oldest skipped key was evicted: that message can no longer be read.
        let evicted = try #require(firstLost)
        #expect(throws: DecryptionError.self) {
            try env.cipher.decrypt(evicted, from: alice.name, existing: bobSession, localUsername: bob.name, localIdentity: bob.identity, keys: bob.keys)
        }
    }

    @Test("padding hides lengths: contents of 1...100 bytes give equal ciphertext sizes")
    func paddingHidesLengths() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (aliceSession, _) = try establish(alice: alice, bob: bob)
        // Content overhead (version, id, timestamp, tag, length) is 30 bytes, so 1...129 bytes of
        // text stay inside the first 160-byte block.
        let sizes = try Set((1...129).map { length in
            try env.cipher.encrypt(text(String(repeating: "a", count: length)), in: &aliceSession).ciphertext.count
        })
        #expect(sizes == [160 + 16])
        let ratchetSizes = try Set((1...159).map { length in
            var copy = aliceSession.ratchet
            return try copy.encrypt([UInt8](repeating: 1, count: length), crypto: env.crypto).ciphertext.count
        })
        #expect(ratchetSizes == [160 + 16])
    }

    @Test("a responder cannot send before receiving, and garbage state does not deserialise")
    func responderAndCorruptState() throws {
        var ratchet = DoubleRatchet.responder(sharedSecret: SecretBytes(zeroes: 32), associatedData: [], ownRatchetKey: try env.crypto.generateX25519KeyPair(using: env.random))
        #expect(throws: DecryptionError.noSendingChain) { try ratchet.encrypt([1], crypto: env.crypto) }
        #expect(throws: DecodingError.self) { try Session(deserializing: SecretBytes(copying: [1, 2, 3])) }
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        let (aliceSession, _) = try establish(alice: alice, bob: bob)
        let bytes = aliceSession.serialized().unsafeExportBytes()
        for length in stride(from: 0, to: bytes.count, by: 7) {
            #expect(throws: DecodingError.self) { try Session(deserializing: SecretBytes(copying: bytes.prefix(length))) }
        }
    }

    @Test("a message without a prelude and no session is refused as noSession")
    func noSession() throws {
        let alice = try env.makeUser("alice")
        let bob = try env.makeUser("bob")
        var (_, bobSession) = try establish(alice: alice, bob: bob)
        let reply = try env.cipher.encrypt(text("hi"), in: &bobSession)
        #expect(throws: DecryptionError.noSession) {
            try env.cipher.decrypt(reply, from: bob.name, existing: nil, localUsername: alice.name, localIdentity: alice.identity, keys: alice.keys)
        }
    }
}
