import Primitives
import Testing
@testable import SecureChannel

@Suite struct CipherStateTests {
    @Test func nonceIsFourZeroBytesThenLittleEndianCounter() {
        #expect(CipherState.nonceBytes(0) == [UInt8](repeating: 0, count: 12))
        #expect(CipherState.nonceBytes(0x0102_0304_0506_0708) == [0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1])
    }

    @Test func counterAdvancesOnlyOnSuccess() throws {
        var (initiator, responder) = try TestEnvironment().handshake()
        let first = try initiator.encrypt([1, 2, 3])
        let second = try initiator.encrypt([4, 5, 6])
        #expect(initiator.sendingNonce == 2)
        // Out of order: the second message cannot be read first.
        #expect(throws: NoiseError.decryptionFailed) { _ = try responder.decrypt(second) }
        #expect(responder.receivingNonce == 0)
        #expect(try responder.decrypt(first) == [1, 2, 3])
        #expect(try responder.decrypt(second) == [4, 5, 6])
        // Replay is refused.
        #expect(throws: NoiseError.decryptionFailed) { _ = try responder.decrypt(second) }
    }

    @Test func tamperedTransportMessageIsRejected() throws {
        var (initiator, responder) = try TestEnvironment().handshake()
        var sealed = try initiator.encrypt(Array("hello".utf8))
        sealed[0] ^= 0x80
        #expect(throws: NoiseError.decryptionFailed) { _ = try responder.decrypt(sealed) }
        #expect(throws: NoiseError.decryptionFailed) { _ = try responder.decrypt([1, 2, 3]) }
    }

    @Test func refusesToEncryptWhenTheNonceReachesTheReservedValue() throws {
        var (initiator, _) = try TestEnvironment().handshake()
        initiator.setSendingNonce(CipherState.maxNonce - 1)
        _ = try initiator.encrypt([1])
        #expect(initiator.sendingNonce == CipherState.maxNonce)
        #expect(throws: NoiseError.nonceExhausted) { _ = try initiator.encrypt([1]) }
    }

    @Test func decryptRefusesTheReservedNonceToo() throws {
        let environment = try TestEnvironment()
        var cipher = CipherState(key: try SymmetricKey(SecretBytes(copying: [UInt8](repeating: 7, count: 32))), crypto: environment.crypto)
        cipher.setNonce(CipherState.maxNonce)
        #expect(throws: NoiseError.nonceExhausted) { _ = try cipher.decrypt(associatedData: [], ciphertext: [UInt8](repeating: 0, count: 16)) }
    }

    @Test func plaintextAboveTheNoiseLimitIsRefused() throws {
        var (initiator, _) = try TestEnvironment().handshake()
        #expect(throws: NoiseError.messageTooLong(length: 65536, limit: 65535)) {
            _ = try initiator.encrypt([UInt8](repeating: 0, count: NoiseTransport.maxPlaintextLength + 1))
        }
        let largest = try initiator.encrypt([UInt8](repeating: 0, count: NoiseTransport.maxPlaintextLength))
        #expect(largest.count == 65535)
    }

    @Test func withoutAKeyDataPassesThrough() throws {
        var cipher = CipherState(crypto: try TestEnvironment().crypto)
        #expect(!cipher.hasKey)
        #expect(try cipher.encrypt(associatedData: [1], plaintext: [9, 9]) == [9, 9])
        #expect(cipher.nonce == 0)
    }

    @Test func rekeyChangesTheKeyButNotTheNonce() throws {
        let environment = try TestEnvironment()
        let key = try SymmetricKey(SecretBytes(copying: [UInt8](repeating: 7, count: 32)))
        var sender = CipherState(key: key, crypto: environment.crypto)
        var receiver = CipherState(key: key, crypto: environment.crypto)
        try sender.rekey()
        let sealed = try sender.encrypt(associatedData: [], plaintext: [1])
        #expect(throws: NoiseError.decryptionFailed) { _ = try receiver.decrypt(associatedData: [], ciphertext: sealed) }
        try receiver.rekey()
        #expect(try receiver.decrypt(associatedData: [], ciphertext: sealed) == [1])
    }
}
