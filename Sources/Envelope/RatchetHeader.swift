import Primitives

/// The Double Ratchet message header, sent in the clear and authenticated as associated data:
/// the sender's current ratchet public key, the length of its previous sending chain (PN) and the
/// message's number in the current chain (N).
public struct RatchetHeader: Hashable, Sendable {
    /// Encoded size: 32 + 4 + 4.
    public static let byteCount = 40

    public let ratchetKey: X25519PublicKey
    public let previousChainLength: UInt32
    public let messageNumber: UInt32

    public init(ratchetKey: X25519PublicKey, previousChainLength: UInt32, messageNumber: UInt32) {
        self.ratchetKey = ratchetKey
        self.previousChainLength = previousChainLength
        self.messageNumber = messageNumber
    }

    /// ratchet public (32) || PN (u32 BE) || N (u32 BE).
    public var encoded: [UInt8] {
        var writer = ByteWriter(capacity: Self.byteCount)
        write(to: &writer)
        return writer.bytes
    }

    func write(to writer: inout ByteWriter) {
        writer.writeRaw(ratchetKey.bytes)
        writer.write(previousChainLength)
        writer.write(messageNumber)
    }

    init(from reader: inout ByteReader) throws(DecodingError) {
        let key = try reader.readRaw(X25519PublicKey.byteCount, "ratchet key")
        do { ratchetKey = try X25519PublicKey(bytes: key) } catch {
            throw .invalidValue(field: "ratchet key", reason: "\(error)")
        }
        previousChainLength = try reader.readUInt32("previous chain length")
        messageNumber = try reader.readUInt32("message number")
    }
}
