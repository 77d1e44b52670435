import Envelope
import Primitives

/// The name of one sealed image file: 16 random bytes, shown as 32 hex digits.
///
/// Random, not derived from the message, the peer or the time, so that a folder of blobs says
/// nothing about whom the user talks to or when.
public struct ImageBlobID: Sendable, Hashable, CustomStringConvertible {
    public static let byteCount = 16
    public let bytes: [UInt8]

    /// - Throws: ``CryptoError/invalidLength(what:expected:got:)`` unless `bytes` has 16 bytes.
    public init(bytes: some Sequence<UInt8>) throws(CryptoError) {
        let array = Array(bytes)
        guard array.count == Self.byteCount else {
            throw .invalidLength(what: "image blob id", expected: Self.byteCount, got: array.count)
        }
        self.bytes = array
    }

    /// Bytes whose length the caller has just made `byteCount`.
    private init(exactly bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A fresh id from `random`.
    public static func random(using random: any RandomSource) -> ImageBlobID {
        ImageBlobID(exactly: random.bytes(count: byteCount))
    }

    /// 32 lowercase hex digits: the blob's file name.
    public var hex: String { Hex.encode(bytes) }

    /// The id a file name spells, or nil for anything that is not 32 lowercase hex digits.
    public init?(hex: String) {
        guard hex.utf8.count == Self.byteCount * 2, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
            let decoded = Hex.decode(hex), let id = try? ImageBlobID(bytes: decoded)
        else { return nil }
        self = id
    }

    public var description: String { "ImageBlobID(\(hex))" }
}

/// Where an image of the history is kept and the key that opens it: the blob's id and the random
/// 32-byte file key it was sealed under.
///
/// Lives inside the history entry, which the client store seals: without the account's password
/// neither the key nor the link between a blob and a conversation can be read. Equality compares
/// the key in constant time; the hash uses the id only.
public struct SealedImageReference: Sendable, Hashable, CustomStringConvertible {
    public let blobID: ImageBlobID
    public let fileKey: SymmetricKey

    public init(blobID: ImageBlobID, fileKey: SymmetricKey) {
        self.blobID = blobID
        self.fileKey = fileKey
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(blobID) }

    public var description: String { "SealedImageReference(\(blobID.hex), key redacted)" }
}
