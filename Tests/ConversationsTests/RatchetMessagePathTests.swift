@testable import Conversations
import Envelope
import Primitives
import Testing

/// The ratchet's per-message path (the in-order message of the current chain, and the message
/// associated data built in one buffer), which is kept free of intermediate arrays.
@Suite("Ratchet message path")
struct RatchetMessagePathTests {
    let env = TestEnvironment()

    @Test("the message associated data built in one buffer is exactly AD || header encoding")
    func associatedDataMatchesHeaderEncoding() throws {
        let key = try env.crypto.generateX25519KeyPair(using: env.random).publicKey
        let headers = [
            RatchetHeader(ratchetKey: key, previousChainLength: 0, messageNumber: 0),
            RatchetHeader(ratchetKey: key, previousChainLength: 0x0102_0304, messageNumber: 0xA0B0_C0D0),
            RatchetHeader(ratchetKey: key, previousChainLength: .max, messageNumber: .max),
        ]
        for associatedData in [[], env.random.bytes(count: 64), env.random.bytes(count: 200), env.random.bytes(count: 3000)] {
            for header in headers {
                let built = try DoubleRatchet.withMessageAssociatedData(associatedData, header: header) { Array($0) }
                #expect(built == associatedData + header.encoded)
            }
        }
    }

    /// Alice and Bob after Bob has read Alice's first message: Bob's next messages from Alice are
    /// in-order messages of his current receiving chain, with no skipped keys.
    func steadyPair() throws -> (alice: DoubleRatchet, bob: DoubleRatchet) {
        let bobKey = try env.crypto.generateX25519KeyPair(using: env.random)
        let secret = env.random.secret(count: 32)
        let associatedData = env.random.bytes(count: 64)
        var alice = try DoubleRatchet.initiator(
            sharedSecret: secret, associatedData: associatedData, remoteRatchetKey: bobKey.publicKey, crypto: env.crypto, random: env.random)
        var bob = DoubleRatchet.responder(sharedSecret: secret, associatedData: associatedData, ownRatchetKey: bobKey)
        let first = try alice.encrypt(Array("first".utf8), crypto: env.crypto)
        #expect(try bob.decrypt(header: first.header, ciphertext: first.ciphertext, crypto: env.crypto, random: env.random) == Array("first".utf8))
        return (alice, bob)
    }

    @Test("an in-order message of the current chain that is tampered with is refused and leaves the ratchet unchanged")
    func tamperedInOrderMessageLeavesStateUnchanged() throws {
        var (alice, bob) = try steadyPair()
        let message = try alice.encrypt(Array("second".utf8), crypto: env.crypto)
        var flipped = message.ciphertext
        flipped[flipped.count - 1] ^= 0x80
        let header = message.header
        let forgeries: [(RatchetHeader, [UInt8])] = [
            (header, flipped),
            (header, Array(message.ciphertext.prefix(15))),
            (header, []),
            // Same ratchet key and number: still the in-order case, but the header is bound
            // into the associated data, so a changed PN fails authentication.
            (RatchetHeader(ratchetKey: header.ratchetKey, previousChainLength: header.previousChainLength + 1, messageNumber: header.messageNumber), message.ciphertext),
        ]
        for (forgedHeader, ciphertext) in forgeries {
            var attempt = bob
            #expect(throws: DecryptionError.authenticationFailed) {
                try attempt.decrypt(header: forgedHeader, ciphertext: ciphertext, crypto: env.crypto, random: env.random)
            }
            #expect(attempt == bob)
        }
        // A ratchet bound to other associated data fails the same way, unchanged.
        var otherAD = DoubleRatchet(
            rootKey: bob.rootKey, sendingRatchetKey: bob.sendingRatchetKey, remoteRatchetKey: bob.remoteRatchetKey, sendingChain: bob.sendingChain,
            receivingChain: bob.receivingChain, sendingCount: bob.sendingCount, receivingCount: bob.receivingCount,
            previousSendingCount: bob.previousSendingCount, skipped: bob.skipped, associatedData: bob.associatedData + [0])
        let otherBefore = otherAD
        #expect(throws: DecryptionError.authenticationFailed) {
            try otherAD.decrypt(header: message.header, ciphertext: message.ciphertext, crypto: env.crypto, random: env.random)
        }
        #expect(otherAD == otherBefore)
        // The genuine message still decrypts, once.
        #expect(try bob.decrypt(header: message.header, ciphertext: message.ciphertext, crypto: env.crypto, random: env.random) == Array("second".utf8))
        #expect(throws: DecryptionError.duplicateMessage(messageNumber: message.header.messageNumber)) {
            try bob.decrypt(header: message.header, ciphertext: message.ciphertext, crypto: env.crypto, random: env.random)
        }
    }

    @Test("a long in-order run, then an out-of-order one, decrypts every message of every length")
    func inOrderThenOutOfOrder() throws {
        var (alice, bob) = try steadyPair()
        for length in [0, 1, 100, 159, 160, 161, 1000] {
            let plaintext = env.random.bytes(count: length)
            let message = try alice.encrypt(plaintext, crypto: env.crypto)
            #expect(message.ciphertext.count == (length / Padding.blockSize + 1) * Padding.blockSize + 16)
            #expect(try bob.decrypt(header: message.header, ciphertext: message.ciphertext, crypto: env.crypto, random: env.random) == plaintext)
        }
        let late = try alice.encrypt(Array("late".utf8), crypto: env.crypto)
        let early = try alice.encrypt(Array("early".utf8), crypto: env.crypto)
        #expect(try bob.decrypt(header: early.header, ciphertext: early.ciphertext, crypto: env.crypto, random: env.random) == Array("early".utf8))
        #expect(bob.skippedMessageKeyCount == 1)
        // With a skipped key held, the next in-order message takes the general path.
        let next = try alice.encrypt(Array("next".utf8), crypto: env.crypto)
        #expect(try bob.decrypt(header: next.header, ciphertext: next.ciphertext, crypto: env.crypto, random: env.random) == Array("next".utf8))
        #expect(try bob.decrypt(header: late.header, ciphertext: late.ciphertext, crypto: env.crypto, random: env.random) == Array("late".utf8))
        #expect(bob.skippedMessageKeyCount == 0)
    }
}
