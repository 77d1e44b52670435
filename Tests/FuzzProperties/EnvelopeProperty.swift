import Envelope
import Primitives

/// The end-to-end envelope (`CiphertextEnvelope`), the plaintext content inside it
/// (`MessageContent`) and its padding (`Padding`). The first input byte picks which.
///
/// Properties: an envelope or content that decodes re-encodes to exactly the input bytes (the
/// encodings are canonical: no two byte strings mean the same message, so nothing in an envelope
/// can be changed without changing what it says); padding is removed only from content || 0x80 ||
/// zeros to a multiple of 160 bytes, and padding any bytes and removing it gives them back.
public enum EnvelopeProperty {
    public static let target = FuzzTarget(name: "envelope", check: check, seeds: seeds)

    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        var cursor = InputCursor(input)
        let selector = cursor.byte() % 3
        let payload = cursor.rest()
        switch selector {
        case 0:
            guard let envelope = try? CiphertextEnvelope(decoding: payload) else { return }
            try require(envelope.encoded == payload, "envelope re-encodes to different bytes")
            try require((try? CiphertextEnvelope(decoding: envelope.encoded)) == envelope, "envelope does not round-trip")
        case 1:
            guard let content = try? MessageContent(decoding: payload) else { return }
            try require(content.encoded == payload, "content re-encodes to different bytes")
            try require((try? MessageContent(decoding: content.encoded)) == content, "content does not round-trip")
        default:
            if let unpadded = Padding.unpad(payload) {
                // PROTOCOL.md: 0x80 then zeros "to a multiple of 160", not necessarily the next one
                // (a sender may hide more), so padding may be longer than ours, never different.
                let marker = unpadded.count
                try require(
                    payload.count % Padding.blockSize == 0 && marker < payload.count && payload.starts(with: unpadded) && payload[marker] == 0x80
                        && payload[(marker + 1)...].allSatisfy { $0 == 0 } && payload.starts(with: Padding.pad(unpadded)),
                    "unpad accepted something that is not content || 0x80 || zeros")
            }
            let padded = Padding.pad(payload)
            try require(padded.count % Padding.blockSize == 0 && padded.count > payload.count, "pad gave \(padded.count) bytes")
            try require(Padding.unpad(padded) == payload, "pad then unpad lost the bytes")
        }
    }

    static func seeds() -> [[UInt8]] {
        fixture {
            let header = RatchetHeader(ratchetKey: try X25519PublicKey(bytes: key(9)), previousChainLength: 2, messageNumber: 5)
            let prelude = PrekeyPrelude(
                identityKey: try Ed25519PublicKey(bytes: key(1)), ephemeralKey: try X25519PublicKey(bytes: key(2)), signedPrekeyID: 7,
                oneTimePrekeyID: 100)
            let noOneTime = PrekeyPrelude(
                identityKey: try Ed25519PublicKey(bytes: key(1)), ephemeralKey: try X25519PublicKey(bytes: key(2)), signedPrekeyID: 7,
                oneTimePrekeyID: nil)
            let postQuantum = PrekeyPrelude(
                identityKey: try Ed25519PublicKey(bytes: key(1)), ephemeralKey: try X25519PublicKey(bytes: key(2)), signedPrekeyID: 7,
                oneTimePrekeyID: 100, kem: KEMPrelude(prekeyID: 3, ciphertext: try MLKEMCiphertext(bytes: Array(repeating: 0x6B, count: MLKEMCiphertext.byteCount))))
            let ciphertext = Array(repeating: UInt8(0x5A), count: 176)
            let envelopes = [
                CiphertextEnvelope(prelude: nil, header: header, ciphertext: ciphertext),
                CiphertextEnvelope(prelude: prelude, header: header, ciphertext: ciphertext),
                CiphertextEnvelope(prelude: noOneTime, header: header, ciphertext: ciphertext),
                CiphertextEnvelope(prelude: postQuantum, header: header, ciphertext: ciphertext),
            ]
            let id = try MessageID(bytes: Array(repeating: 7, count: 16))
            let at = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
            let bodies: [MessageContent.Body] = [
                .text("hello, world"), .text(""),
                .image(.init(png: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], fileName: "cat.png", width: 1, height: 1)),
                .deliveryReceipt([id, id]), .readReceipt([id]), .requestDeclined, .retryRequest(envelopeID: 12, acceptedAt: at),
            ]
            return envelopes.map { mode(0, $0.encoded) }
                + bodies.map { mode(1, MessageContent(id: id, sentAt: at, body: $0).encoded) }
                + [mode(2, Padding.pad(Array("hi".utf8))), mode(2, Padding.pad([]))]
        }
    }
}
