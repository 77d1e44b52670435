import Testing
@testable import SecureChannel

@Suite struct FrameCipherTests {
    @Test func largeFrameIsSplitIntoNoiseSizedMessagesAndReassembled() throws {
        let (initiator, responder) = try TestEnvironment().handshake()
        var sender = FrameCipher(transport: initiator)
        var receiver = FrameCipher(transport: responder)
        let frame = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let messages = try sender.seal(frame: frame)
        #expect(messages.count == (frame.count + 4 + 65518) / 65519)
        #expect(messages.allSatisfy { $0.count <= ChannelLimits.maxNoiseMessageBytes })
        var received: [[UInt8]] = []
        for message in messages {
            received += try receiver.open(message: message)
        }
        #expect(received == [frame])
    }

    @Test func smallFramesRoundTripInOrder() throws {
        let (initiator, responder) = try TestEnvironment().handshake()
        var sender = FrameCipher(transport: responder)
        var receiver = FrameCipher(transport: initiator)
        for index in 1...20 {
            let frame = [UInt8](repeating: UInt8(index), count: index)
            let messages = try sender.seal(frame: frame)
            #expect(messages.count == 1)
            #expect(try receiver.open(message: messages[0]) == [frame])
        }
    }

    @Test func pingsAreCountedAndNotDelivered() throws {
        let (initiator, responder) = try TestEnvironment().handshake()
        var sender = FrameCipher(transport: initiator)
        var receiver = FrameCipher(transport: responder)
        #expect(try receiver.open(message: sender.sealPing()) == [])
        #expect(try receiver.open(message: sender.sealPing()) == [])
        #expect(receiver.pingsReceived == 2)
        #expect(try receiver.open(message: sender.seal(frame: [7])[0]) == [[7]])
    }

    @Test func emptyAndOversizedFramesAreRefusedOnSend() throws {
        let (initiator, _) = try TestEnvironment().handshake()
        var sender = FrameCipher(transport: initiator, maxFrameBytes: 100)
        #expect(throws: FrameError.emptyFrame) { _ = try sender.seal(frame: []) }
        #expect(throws: FrameError.frameTooLarge(length: 101, limit: 100)) { _ = try sender.seal(frame: [UInt8](repeating: 0, count: 101)) }
    }

    @Test func peerDeclaringAnOversizedFrameIsRefused() throws {
        let (initiator, responder) = try TestEnvironment().handshake()
        var sender = FrameCipher(transport: initiator, maxFrameBytes: 1000)
        var receiver = FrameCipher(transport: responder, maxFrameBytes: 100)
        let message = try sender.seal(frame: [UInt8](repeating: 1, count: 500))[0]
        #expect(throws: FrameError.frameTooLarge(length: 500, limit: 100)) { _ = try receiver.open(message: message) }
    }

    @Test func tamperedMessageIsATransportError() throws {
        let (initiator, responder) = try TestEnvironment().handshake()
        var sender = FrameCipher(transport: initiator)
        var receiver = FrameCipher(transport: responder)
        var message = try sender.seal(frame: [1, 2, 3])[0]
        message[message.count - 1] ^= 1
        #expect(throws: FrameError.transport(.decryptionFailed)) { _ = try receiver.open(message: message) }
    }
}
