import Primitives

/// The plaintext inside an envelope: a message id, the sender's clock and one body.
public struct MessageContent: Hashable, Sendable {
    public static let version: UInt8 = 1

    public let id: MessageID
    /// The sender's wall clock when it sent the message (informational; not trusted for order).
    public let sentAt: Timestamp
    public let body: Body

    public init(id: MessageID, sentAt: Timestamp, body: Body) {
        self.id = id
        self.sentAt = sentAt
        self.body = body
    }

    /// What a message says.
    public enum Body: Hashable, Sendable {
        /// UTF-8 text.
        case text(String)
        /// A PNG image. The receiver validates it again before saving; nothing here is trusted.
        case image(ImageAttachment)
        /// The listed messages reached the recipient's device.
        case deliveryReceipt([MessageID])
        /// The listed messages were shown to the recipient.
        case readReceipt([MessageID])
        /// The recipient declined the sender's message request (and blocked the sender).
        case requestDeclined
        /// The recipient could not decrypt the envelope the server accepted as `envelopeID` at
        /// `acceptedAt`, and asks for its content again (sent in a new session).
        case retryRequest(envelopeID: UInt64, acceptedAt: Timestamp)
    }

    /// A PNG image and what the sender said about it.
    public struct ImageAttachment: Hashable, Sendable {
        public let png: [UInt8]
        public let fileName: String
        public let width: UInt32
        public let height: UInt32

        public init(png: [UInt8], fileName: String, width: UInt32, height: UInt32) {
            self.png = png
            self.fileName = fileName
            self.width = width
            self.height = height
        }
    }
}

extension MessageContent {
    private enum Tag: UInt8 {
        case text = 1, image = 2, deliveryReceipt = 3, readReceipt = 4, requestDeclined = 5, retryRequest = 6
    }

    /// version (u8) || id (16) || sentAt ms (i64) || tag (u8) || body fields.
    public var encoded: [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.write(Self.version)
        writer.writeRaw(id.bytes)
        writer.write(sentAt.millisecondsSinceEpoch)
        switch body {
        case .text(let text):
            writer.write(Tag.text.rawValue)
            writer.writeString(text)
        case .image(let image):
            writer.write(Tag.image.rawValue)
            writer.writeString(image.fileName)
            writer.write(image.width)
            writer.write(image.height)
            writer.writeVariable(image.png)
        case .deliveryReceipt(let ids):
            writer.write(Tag.deliveryReceipt.rawValue)
            Self.write(ids, to: &writer)
        case .readReceipt(let ids):
            writer.write(Tag.readReceipt.rawValue)
            Self.write(ids, to: &writer)
        case .requestDeclined:
            writer.write(Tag.requestDeclined.rawValue)
        case .retryRequest(let envelopeID, let acceptedAt):
            writer.write(Tag.retryRequest.rawValue)
            writer.write(envelopeID)
            writer.write(acceptedAt.millisecondsSinceEpoch)
        }
        return writer.bytes
    }

    private static func write(_ ids: [MessageID], to writer: inout ByteWriter) {
        writer.write(UInt32(ids.count))
        for id in ids { writer.writeRaw(id.bytes) }
    }

    /// Decodes content. Any byte string yields a value or a typed error, never a trap.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        guard bytes.count <= EnvelopeLimits.maxContentBytes else {
            throw .tooLong(field: "content", length: bytes.count, limit: EnvelopeLimits.maxContentBytes)
        }
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("content version")
        guard version == Self.version else {
            throw .invalidValue(field: "content version", reason: "unsupported version \(version)")
        }
        id = try MessageID(bytes: reader.readRaw(MessageID.byteCount, "message id"))
        sentAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("sent at"))
        let rawTag = try reader.readUInt8("body tag")
        guard let tag = Tag(rawValue: rawTag) else {
            throw .invalidValue(field: "body tag", reason: "unknown body \(rawTag)")
        }
        switch tag {
        case .text:
            body = .text(try reader.readString("text", limit: EnvelopeLimits.maxTextBytes))
        case .image:
            let fileName = try reader.readString("file name", limit: EnvelopeLimits.maxFileNameBytes)
            let width = try reader.readUInt32("width")
            let height = try reader.readUInt32("height")
            let png = try reader.readVariable("png", limit: EnvelopeLimits.maxImageBytes)
            body = .image(ImageAttachment(png: png, fileName: fileName, width: width, height: height))
        case .deliveryReceipt, .readReceipt:
            let count = Int(try reader.readUInt32("receipt count"))
            guard count <= EnvelopeLimits.maxReceiptIDs else {
                throw .tooLong(field: "receipt ids", length: count, limit: EnvelopeLimits.maxReceiptIDs)
            }
            var ids: [MessageID] = []
            ids.reserveCapacity(count)
            for _ in 0..<count {
                ids.append(try MessageID(bytes: reader.readRaw(MessageID.byteCount, "receipt id")))
            }
            body = tag == .deliveryReceipt ? .deliveryReceipt(ids) : .readReceipt(ids)
        case .requestDeclined:
            body = .requestDeclined
        case .retryRequest:
            let envelopeID = try reader.readUInt64("retry envelope id")
            let acceptedAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("retry accepted at"))
            body = .retryRequest(envelopeID: envelopeID, acceptedAt: acceptedAt)
        }
        try reader.expectEnd()
    }
}
