import Primitives
import Testing
@testable import SecureChannel

@Suite struct HandshakeStateTests {
    @Test func handshakeAuthenticatesBothStaticKeysAndAgreesOnTheHash() throws {
        let environment = try TestEnvironment()
        let (initiator, responder) = try environment.handshake()
        #expect(initiator.remoteStaticKey == (try environment.staticKeyPair(2)).publicKey)
        #expect(responder.remoteStaticKey == (try environment.staticKeyPair(1)).publicKey)
        #expect(initiator.handshakeHash == responder.handshakeHash)
        #expect(initiator.handshakeHash.count == 64)
    }

    @Test func initiatorLearnsServerKeyBeforeRevealingItsOwn() throws {
        let environment = try TestEnvironment()
        var initiator = try HandshakeState(role: .initiator, localStatic: environment.staticKeyPair(1), crypto: environment.crypto, random: SeededRandomSource(seed: 1))
        var responder = try HandshakeState(role: .responder, localStatic: environment.staticKeyPair(2), crypto: environment.crypto, random: SeededRandomSource(seed: 2))
        #expect(initiator.nextAction == .writeMessage)
        #expect(responder.nextAction == .readMessage)
        _ = try responder.readMessage(initiator.writeMessage())
        _ = try initiator.readMessage(responder.writeMessage())
        #expect(initiator.remoteStaticKey == (try environment.staticKeyPair(2)).publicKey)
        #expect(responder.remoteStaticKey == nil)
        #expect(initiator.nextAction == .writeMessage)
    }

    @Test func transportRoundTripsInBothDirections() throws {
        var (initiator, responder) = try TestEnvironment().handshake()
        for round in 0..<5 {
            let request = Array("request \(round)".utf8)
            #expect(try responder.decrypt(initiator.encrypt(request)) == request)
            let reply = Array("reply \(round)".utf8)
            #expect(try initiator.decrypt(responder.encrypt(reply)) == reply)
        }
        #expect(initiator.sendingNonce == 5)
        #expect(responder.receivingNonce == 5)
        let empty: [UInt8] = []
        #expect(try responder.decrypt(initiator.encrypt(empty)) == empty)
    }

    @Test func wrongPrologueFailsTheHandshake() throws {
        let environment = try TestEnvironment()
        var initiator = try HandshakeState(role: .initiator, localStatic: environment.staticKeyPair(1), prologue: Array("parley/2".utf8), crypto: environment.crypto, random: SeededRandomSource(seed: 1))
        var responder = try HandshakeState(role: .responder, localStatic: environment.staticKeyPair(2), crypto: environment.crypto, random: SeededRandomSource(seed: 2))
        _ = try responder.readMessage(initiator.writeMessage())
        let second = try responder.writeMessage()
        #expect(throws: NoiseError.decryptionFailed) { _ = try initiator.readMessage(second) }
        #expect(initiator.nextAction == .aborted)
        #expect(throws: NoiseError.handshakeAborted) { _ = try initiator.writeMessage() }
    }

    @Test func tamperedHandshakeMessageIsRejected() throws {
        let environment = try TestEnvironment()
        var initiator = try HandshakeState(role: .initiator, localStatic: environment.staticKeyPair(1), crypto: environment.crypto, random: SeededRandomSource(seed: 1))
        var responder = try HandshakeState(role: .responder, localStatic: environment.staticKeyPair(2), crypto: environment.crypto, random: SeededRandomSource(seed: 2))
        _ = try responder.readMessage(initiator.writeMessage())
        var second = try responder.writeMessage()
        second[40] ^= 0x01
        #expect(throws: NoiseError.decryptionFailed) { _ = try initiator.readMessage(second) }
    }

    @Test func truncatedAndOversizedMessagesAreRefused() throws {
        let environment = try TestEnvironment()
        var responder = try HandshakeState(role: .responder, localStatic: environment.staticKeyPair(2), crypto: environment.crypto, random: SeededRandomSource(seed: 2))
        #expect(throws: NoiseError.messageTooShort(needed: 32, got: 10)) { _ = try responder.readMessage([UInt8](repeating: 9, count: 10)) }
        var fresh = try HandshakeState(role: .responder, localStatic: environment.staticKeyPair(2), crypto: environment.crypto, random: SeededRandomSource(seed: 2))
        #expect(throws: NoiseError.messageTooLong(length: 65536, limit: 65535)) { _ = try fresh.readMessage([UInt8](repeating: 9, count: 65536)) }
    }

    @Test func smallOrderEphemeralKeyIsRefused() throws {
        let environment = try TestEnvironment()
        var responder = try HandshakeState(role: .responder, localStatic: environment.staticKeyPair(2), crypto: environment.crypto, random: SeededRandomSource(seed: 2))
        _ = try responder.readMessage([UInt8](repeating: 0, count: 32))
        #expect(throws: NoiseError.nonContributoryKeyAgreement) { _ = try responder.writeMessage() }
    }

    @Test func outOfTurnAndEarlySplitAreErrorsNotTraps() throws {
        let environment = try TestEnvironment()
        var initiator = try HandshakeState(role: .initiator, localStatic: environment.staticKeyPair(1), crypto: environment.crypto, random: SeededRandomSource(seed: 1))
        #expect(throws: NoiseError.outOfTurn(expected: .writeMessage)) { _ = try initiator.readMessage([]) }
        #expect(throws: NoiseError.handshakeIncomplete) { _ = try initiator.split() }
    }

    @Test func splitIsSingleUse() throws {
        let environment = try TestEnvironment()
        var initiator = try HandshakeState(role: .initiator, localStatic: environment.staticKeyPair(1), crypto: environment.crypto, random: SeededRandomSource(seed: 1))
        var responder = try HandshakeState(role: .responder, localStatic: environment.staticKeyPair(2), crypto: environment.crypto, random: SeededRandomSource(seed: 2))
        _ = try responder.readMessage(initiator.writeMessage())
        _ = try initiator.readMessage(responder.writeMessage())
        _ = try responder.readMessage(initiator.writeMessage())
        _ = try initiator.split()
        #expect(throws: NoiseError.handshakeAborted) { _ = try initiator.split() }
    }
}
