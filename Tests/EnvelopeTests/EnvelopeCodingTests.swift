import Envelope
import Primitives
import Testing

@Suite("Envelope and content encoding")
struct EnvelopeCodingTests {
    static let key = fixture { try X25519PublicKey(bytes: [UInt8](repeating: 7, count: 32)) }
    static let identity = fixture { try Ed25519PublicKey(bytes: [UInt8](repeating: 9, count: 32)) }
    static let id = fixture { try MessageID(bytes: Array(0..<16)) }

    static let envelopes = [
        CiphertextEnvelope(prelude: nil, header: RatchetHeader(ratchetKey: key, previousChainLength: 3, messageNumber: 9), ciphertext: [UInt8](repeating: 1, count: 176)),
        CiphertextEnvelope(
            prelude: PrekeyPrelude(identityKey: identity, ephemeralKey: key, signedPrekeyID: 0xffff_ffff, oneTimePrekeyID: 0),
            header: RatchetHeader(ratchetKey: key, previousChainLength: 0, messageNumber: 0), ciphertext: [UInt8](repeating: 2, count: 16)),
        CiphertextEnvelope(
            prelude: PrekeyPrelude(identityKey: identity, ephemeralKey: key, signedPrekeyID: 5, oneTimePrekeyID: nil),
            header: RatchetHeader(ratchetKey: key, previousChainLength: 1, messageNumber: 2), ciphertext: [UInt8](repeating: 3, count: 336)),
    ]

    @Test("envelopes round trip, with and without prelude and one-time prekey")
    func envelopeRoundTrip() throws {
        for envelope in Self.envelopes {
            #expect(try CiphertextEnvelope(decoding: envelope.encoded) == envelope)
        }
    }

    @Test("the header encodes as ratchet key || PN || N, big-endian")
    func headerLayout() {
        let header = RatchetHeader(ratchetKey: Self.key, previousChainLength: 0x01020304, messageNumber: 0x0a0b0c0d)
        #expect(header.encoded == [UInt8](repeating: 7, count: 32) + [1, 2, 3, 4, 10, 11, 12, 13])
    }

    @Test("every content body round trips")
    func contentRoundTrip() throws {
        let bodies: [MessageContent.Body] = [
            .text(""), .text("héllo 👋"),
            .image(.init(png: [0x89, 0x50, 0x4e, 0x47], fileName: "cat.png", width: 640, height: 480)),
            .deliveryReceipt([Self.id, Self.id]), .readReceipt([Self.id]), .deliveryReceipt([]), .requestDeclined,
        ]
        for body in bodies {
            let content = MessageContent(id: Self.id, sentAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_123), body: body)
            #expect(try MessageContent(decoding: content.encoded) == content)
        }
    }

    @Test("every truncation of a valid encoding is a typed error")
    func truncations() {
        for envelope in Self.envelopes {
            let bytes = envelope.encoded
            for length in 0..<bytes.count {
                #expect(throws: DecodingError.self) { try CiphertextEnvelope(decoding: Array(bytes.prefix(length))) }
            }
        }
        let content = MessageContent(id: Self.id, sentAt: Timestamp(millisecondsSinceEpoch: 1), body: .image(.init(png: [1, 2, 3], fileName: "a.png", width: 1, height: 1))).encoded
        for length in 0..<content.count {
            #expect(throws: DecodingError.self) { try MessageContent(decoding: Array(content.prefix(length))) }
        }
    }

    @Test("unknown versions, kinds and tags, trailing bytes and oversized fields are refused")
    func hostileFields() {
        var bytes = Self.envelopes[0].encoded
        bytes[0] = 2
        #expect(throws: DecodingError.invalidValue(field: "version", reason: "unsupported envelope version 2")) { try CiphertextEnvelope(decoding: bytes) }
        bytes = Self.envelopes[0].encoded
        bytes[1] = 9
        #expect(throws: DecodingError.invalidValue(field: "kind", reason: "unknown envelope kind 9")) { try CiphertextEnvelope(decoding: bytes) }
        #expect(throws: DecodingError.trailingBytes(count: 1)) { try CiphertextEnvelope(decoding: Self.envelopes[0].encoded + [0]) }
        // A receipt claiming four billion ids is refused before any allocation.
        let receipt = [1] + Self.id.bytes + [UInt8](repeating: 0, count: 8) + [3, 0xff, 0xff, 0xff, 0xff]
        #expect(throws: DecodingError.tooLong(field: "receipt ids", length: 0xffff_ffff, limit: EnvelopeLimits.maxReceiptIDs)) { try MessageContent(decoding: receipt) }
        // Text that is not UTF-8.
        let text = [1] + Self.id.bytes + [UInt8](repeating: 0, count: 8) + [1, 0, 0, 0, 1, 0xff]
        #expect(throws: DecodingError.invalidValue(field: "text", reason: "invalid UTF-8")) { try MessageContent(decoding: text) }
    }

    @Test("random byte strings decode to a value or a typed error, never a trap; what decodes re-encodes to the same bytes")
    func randomInputs() {
        var generator = SeededGenerator(seed: 7)
        var decodedByKind: [UInt8: Int] = [1: 0, 2: 0]
        for round in 0..<5000 {
            let length = Int(generator.next() % 200)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            // Bias half the inputs towards plausible prefixes so decoding gets past the first
            // bytes, alternating the two kinds (a message, a prekey message).
            if round % 2 == 0, bytes.count > 2 {
                let kind = UInt8(1 + (round / 4) % 2)
                bytes[0] = 1
                bytes[1] = kind
                // Every other biased input also gets a consistent structure (a valid boolean, a
                // ciphertext length that matches the rest), so that decodes can succeed at all.
                if (round / 2) % 2 == 0 { Self.makeStructurallyValid(&bytes, kind: kind, using: &generator) }
            }
            if let envelope = try? CiphertextEnvelope(decoding: bytes) {
                #expect(envelope.encoded == bytes, "round \(round): \(bytes)")
                decodedByKind[envelope.prelude == nil ? 1 : 2, default: 0] += 1
            }
            if let content = try? MessageContent(decoding: bytes) {
                #expect(content.encoded == bytes, "round \(round): \(bytes)")
            }
        }
        // Both decoders were really reached, many times.
        #expect(decodedByKind[1, default: 0] > 100, "\(decodedByKind)")
        #expect(decodedByKind[2, default: 0] > 100, "\(decodedByKind)")
    }

    /// Rewrites the fields a random envelope gets wrong by chance: the has-one-time-prekey byte
    /// (0 or 1; the id after a 0 is left random, which must not decode, since it would re-encode
    /// as 0) and the ciphertext length, sized to what follows.
    static func makeStructurallyValid(_ bytes: inout [UInt8], kind: UInt8, using generator: inout SeededGenerator) {
        let preludeBytes = kind == 2 ? 32 + 32 + 4 + 1 + 4 : 0
        let lengthOffset = 2 + preludeBytes + RatchetHeader.byteCount
        let minimum = lengthOffset + 4 + 16
        if bytes.count < minimum {
            bytes += (0..<(minimum - bytes.count + Int(generator.next() % 40))).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        }
        if kind == 2 {
            let choice = generator.next() % 3
            bytes[2 + 68] = choice == 0 ? 1 : 0
            if choice == 1 { bytes.replaceSubrange(2 + 69..<2 + 73, with: [0, 0, 0, 0]) }
        }
        let ciphertextLength = UInt32(bytes.count - lengthOffset - 4)
        bytes.replaceSubrange(lengthOffset..<lengthOffset + 4, with: (0..<4).reversed().map { UInt8(truncatingIfNeeded: ciphertextLength >> ($0 * 8)) })
    }

    @Test("padding: 0...159 bytes all pad to 160, 160 pads to 320, and unpad inverts it")
    func padding() {
        for length in 0..<160 {
            let content = [UInt8](repeating: 0, count: length)
            let padded = Padding.pad(content)
            #expect(padded.count == 160)
            #expect(Padding.unpad(padded) == content)
        }
        #expect(Padding.pad([UInt8](repeating: 1, count: 160)).count == 320)
        #expect(Padding.unpad([UInt8](repeating: 0, count: 160)) == nil)
        #expect(Padding.unpad([0x80] + [UInt8](repeating: 0, count: 158)) == nil)
        #expect(Padding.unpad([]) == nil)
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Builds a constant test fixture; an invalid one is a bug in the test itself.
func fixture<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { preconditionFailure("invalid test fixture: \(error)") }
}
