import Primitives
import SecureChannel

/// The server's side of the secure channel: the Noise XX handshake as responder
/// (`HandshakeState`), the frame layer after it (`FrameCipher`) and the stream reassembly
/// (`FrameAssembler`). The first input byte picks the mode.
///
/// Properties:
/// - hostile handshake messages: message 1's payload is returned exactly as sent; any failure
///   aborts the handshake for good (every later call throws `handshakeAborted`); a completed
///   handshake has authenticated a static key and splits once;
/// - frames an honest client seals arrive exactly as sent, in order, however large; a tampered
///   transport message is refused, after exactly the frames sent before it;
/// - the assembler returns the same frames, and the same error, whether the stream arrives whole
///   or cut at arbitrary points, and the same as a plain reference parser.
public enum NoiseResponderProperty {
    public static let target = FuzzTarget(name: "noise-responder", check: check, seeds: seeds)

    static let initiatorStatic = fixture { try fuzzCrypto.generateX25519KeyPair(using: SeededRandomSource(seed: 1)) }
    static let responderStatic = fixture { try fuzzCrypto.generateX25519KeyPair(using: SeededRandomSource(seed: 2)) }

    static func responder() -> HandshakeState {
        fixture { try HandshakeState(role: .responder, localStatic: responderStatic, crypto: fuzzCrypto, random: SeededRandomSource(seed: 3)) }
    }

    static func initiator() -> HandshakeState {
        fixture { try HandshakeState(role: .initiator, localStatic: initiatorStatic, crypto: fuzzCrypto, random: SeededRandomSource(seed: 4)) }
    }

    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        var cursor = InputCursor(input)
        switch cursor.byte() % 3 {
        case 0: try checkHandshake(&cursor)
        case 1: try checkFrames(&cursor)
        default: try checkAssembler(&cursor)
        }
    }

    // MARK: Handshake

    private static func checkHandshake(_ cursor: inout InputCursor) throws(PropertyViolation) {
        var state = responder()
        let first = cursor.take(cursor.uint16())
        let third = cursor.rest()
        let payload: [UInt8]
        do throws(NoiseError) {
            payload = try state.readMessage(first)
        } catch {
            return try requireAborted(&state, after: error)
        }
        try require(payload == Array(first.dropFirst(32)), "message 1's payload changed")
        let second: [UInt8]
        do {
            second = try state.writeMessage()
        } catch {
            // Message 1 carries only `e`; a small-order one is caught by the `ee` of message 2.
            try require(error == .nonContributoryKeyAgreement, "the responder could not answer a readable message 1: \(error)")
            return try requireAborted(&state, after: error)
        }
        try require(second.count == 32 + 48 + 16, "message 2 is \(second.count) bytes")
        do {
            _ = try state.readMessage(third)
        } catch {
            return try requireAborted(&state, after: error)
        }
        try require(state.isComplete && state.remoteStaticKey != nil, "message 3 read but no authenticated static key")
        let transport: NoiseTransport
        do { transport = try state.split() } catch { throw PropertyViolation("a complete handshake did not split: \(error)") }
        try require(transport.remoteStaticKey == state.remoteStaticKey, "the transport names another peer")
        try require((try? state.split()) == nil, "a handshake split twice")
    }

    private static func requireAborted(_ state: inout HandshakeState, after error: NoiseError) throws(PropertyViolation) {
        try require(state.nextAction == .aborted, "after \(error) the handshake expects \(state.nextAction)")
        try require(state.remoteStaticKey == nil || state.nextAction == .aborted, "a failed handshake kept going")
        var wrote = false
        do throws(NoiseError) {
            _ = try state.writeMessage()
            wrote = true
        } catch {
            try require(error == .handshakeAborted, "an aborted handshake threw \(error)")
        }
        try require(!wrote, "an aborted handshake wrote a message")
        var didSplit = false
        do throws(NoiseError) {
            _ = try state.split()
            didSplit = true
        } catch {
            try require(error == .handshakeAborted, "an aborted handshake's split threw \(error)")
        }
        try require(!didSplit, "an aborted handshake split")
    }

    /// An honest handshake: the client's two messages, and both sides' frame ciphers.
    static func honestHandshake() -> (first: [UInt8], third: [UInt8], client: FrameCipher, server: FrameCipher) {
        fixture {
            var client = initiator()
            var server = responder()
            let first = try client.writeMessage()
            _ = try server.readMessage(first)
            _ = try client.readMessage(try server.writeMessage())
            let third = try client.writeMessage()
            _ = try server.readMessage(third)
            return (first, third, FrameCipher(transport: try client.split()), FrameCipher(transport: try server.split()))
        }
    }

    // MARK: Frames

    private static func checkFrames(_ cursor: inout InputCursor) throws(PropertyViolation) {
        var (_, _, client, server) = honestHandshake()
        let tamper = (enabled: cursor.byte() & 0x80 != 0, message: Int(cursor.byte()), offset: cursor.uint16(), mask: cursor.byte() | 1)
        var frames: [[UInt8]] = []
        while !cursor.isAtEnd && frames.count < 16 {
            let length = cursor.uint16()
            var frame = cursor.take(length & 0x7FFF)
            // The top bit stretches a frame past one Noise message (65519 bytes of plaintext).
            if length & 0x8000 != 0, !frame.isEmpty {
                frame = Array(repeatElement(frame, count: 70_000 / frame.count + 1).joined().prefix(70_000))
            }
            frames.append(frame)
        }
        var messages: [(message: [UInt8], completes: Int)] = []
        var sent: [[UInt8]] = []
        for frame in frames {
            let sealed: [[UInt8]]
            do throws(FrameError) {
                sealed = try client.seal(frame: frame)
            } catch {
                try require(frame.isEmpty && error == .emptyFrame, "sealing a \(frame.count)-byte frame failed: \(error)")
                continue
            }
            try require(!frame.isEmpty, "an empty frame was sealed")
            sent.append(frame)
            for (index, message) in sealed.enumerated() { messages.append((message, index == sealed.count - 1 ? sent.count : -1)) }
        }
        let tampered = tamper.enabled && !messages.isEmpty ? tamper.message % messages.count : nil
        if let tampered {
            let offset = tamper.offset % messages[tampered].message.count
            messages[tampered].message[offset] ^= tamper.mask
        }
        var received: [[UInt8]] = []
        for (index, entry) in messages.enumerated() {
            do throws(FrameError) {
                received += try server.open(message: entry.message)
            } catch {
                try require(index == tampered, "an honest transport message was refused: \(error)")
                guard case .transport = error else { throw PropertyViolation("a tampered message gave \(error)") }
                let delivered = messages[..<index].last { $0.completes > 0 }?.completes ?? 0
                try require(received == Array(sent.prefix(delivered)), "frames before the tampered message differ")
                return
            }
            try require(index != tampered, "a tampered transport message was accepted")
        }
        try require(received == sent, "frames arrived as \(received.map(\.count)), sent \(sent.map(\.count))")
    }

    // MARK: Assembler

    private static func checkAssembler(_ cursor: inout InputCursor) throws(PropertyViolation) {
        let limit = 1 + Int(cursor.byte()) * 8
        let seed = cursor.byte()
        let stream = cursor.rest()

        var whole = FrameAssembler(maxFrameBytes: limit)
        let wholeResult = Result { () throws(FrameError) in try whole.append(stream) }

        var cut = FrameAssembler(maxFrameBytes: limit)
        var cutFrames: [[UInt8]] = []
        var cutError: FrameError?
        var offset = 0
        var step = UInt32(seed) | 1
        while offset < stream.count, cutError == nil {
            step = step &* 1_103_515_245 &+ 12345
            let size = Int(step >> 16) % 9
            let end = min(stream.count, offset + size)
            do { cutFrames += try cut.append(stream[offset..<end]) } catch { cutError = error }
            offset = end
        }

        let reference = referenceParse(stream, limit: limit)
        switch wholeResult {
        case .success(let frames):
            try require(cutError == nil && frames == cutFrames, "cut stream gave other frames than the whole stream")
            try require(reference.error == nil && frames == reference.frames, "the assembler disagrees with the reference parser")
            try require(whole.isMidFrame == reference.midFrame, "isMidFrame disagrees with the reference parser")
        case .failure(let error):
            try require(cutError == error, "the cut stream failed differently: \(String(describing: cutError)) vs \(error)")
            try require(reference.error == error, "the reference parser failed differently")
            // A failing append returns nothing, so frames completed earlier in that same chunk are
            // dropped with the stream: what was returned is a prefix of what preceded the error.
            try require(cutFrames.count <= reference.frames.count && Array(reference.frames.prefix(cutFrames.count)) == cutFrames, "frames before the error differ")
            try require((try? whole.append([0])) == nil, "a failed assembler accepted more bytes")
        }
    }

    private static func referenceParse(_ stream: [UInt8], limit: Int) -> (frames: [[UInt8]], error: FrameError?, midFrame: Bool) {
        var frames: [[UInt8]] = []
        var index = 0
        while index < stream.count {
            guard stream.count - index >= 4 else { return (frames, nil, true) }
            let length = stream[index..<index + 4].reduce(0) { $0 << 8 | Int($1) }
            index += 4
            guard length <= limit else { return (frames, .frameTooLarge(length: length, limit: limit), false) }
            guard stream.count - index >= length else { return (frames, nil, true) }
            frames.append(Array(stream[index..<index + length]))
            index += length
        }
        return (frames, nil, false)
    }

    // MARK: Seeds

    static func seeds() -> [[UInt8]] {
        let honest = honestHandshake()
        let frames = part(Array("hello".utf8)) + part(Array(repeating: 0x42, count: 300)) + part([]) + [0x80, 0x10] + Array(repeating: 7, count: 16)
        let stream: [UInt8] = [0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 2, 9, 9]
        return [
            mode(0, part(honest.first) + honest.third),
            mode(0, part(honest.first) + Array(repeating: 0, count: 64)),
            mode(0, part(Array(repeating: 9, count: 32)) + []),
            mode(1, [0, 0, 0, 0] + frames),
            mode(1, [0x80, 1, 0, 20, 0x10] + frames),
            mode(2, [4, 17] + stream),
            mode(2, [0, 3] + [0, 0, 0, 200] + Array(repeating: 1, count: 10)),
        ]
    }
}
