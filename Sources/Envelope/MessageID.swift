import Primitives

/// A message's identity: 16 random bytes chosen by the sender, used for receipts and to show a
/// re-delivered message once.
public struct MessageID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    /// - Throws: ``DecodingError/invalidValue(field:reason:)`` unless exactly 16 bytes.
    public init(bytes: [UInt8]) throws(DecodingError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidValue(field: "message id", reason: "\(bytes.count) bytes, expected 16")
        }
        self.bytes = bytes
    }

    /// A fresh random id.
    public static func random(using random: some RandomSource) -> MessageID {
        MessageID(unchecked: random.bytes(count: byteCount))
    }

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Lowercase hex, 32 characters.
    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }

    public static func < (lhs: MessageID, rhs: MessageID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
