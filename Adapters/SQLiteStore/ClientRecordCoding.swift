import ClientCore
import Conversations
import Envelope
import Prekeys
import Primitives

/// The plaintext layouts of the client's sealed records, written with ``ByteWriter`` and read back
/// with ``ByteReader`` under the bounds in ``SQLiteClientStore/Limits``.
///
/// Each layout starts with a version byte so that a later build can read old records. Sessions are
/// not here: they use `Session.serialized()`, owned by the Conversations module. Encoders return a
/// fresh array that the caller seals and wipes (``ClientRecordCipher/seal(_:table:lookups:)``).
enum ClientRecordCoding {
    static let version: UInt8 = 1

    // MARK: Local keys

    static func encode(_ identity: Ed25519KeyPair) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + 64 + 32)
        writer.write(version)
        writer.writeSecret(identity.secretKey.secret)
        writer.writeRaw(identity.publicKey.bytes)
        return writer.bytes
    }

    static func decodeIdentity(_ bytes: [UInt8]) throws(DecodingError) -> Ed25519KeyPair {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "identity")
        let secret = try reader.readSecret(Ed25519SecretKey.byteCount, "identity secret key")
        let publicKey = try readEd25519(&reader, "identity public key")
        try reader.expectEnd()
        return Ed25519KeyPair(secretKey: try checked("identity secret key") { () throws(CryptoError) in try Ed25519SecretKey(secret) }, publicKey: publicKey)
    }

    static func encode(_ pair: SignedPrekeyPair) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + 4 + 32 + 32 + 64 + 8)
        writer.write(version)
        writer.write(pair.id)
        writer.writeSecret(pair.keyPair.secretKey.secret)
        writer.writeRaw(pair.keyPair.publicKey.bytes)
        writer.writeRaw(pair.signature.bytes)
        writer.write(pair.createdAt.millisecondsSinceEpoch)
        return writer.bytes
    }

    static func decodeSignedPrekey(_ bytes: [UInt8]) throws(DecodingError) -> SignedPrekeyPair {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "signed prekey")
        let id = try reader.readUInt32("signed prekey id")
        let keyPair = try readX25519Pair(&reader, "signed prekey")
        let signatureBytes = try reader.readRaw(Ed25519Signature.byteCount, "signed prekey signature")
        let signature = try checked("signed prekey signature") { () throws(CryptoError) in try Ed25519Signature(bytes: signatureBytes) }
        let createdAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("signed prekey created at"))
        try reader.expectEnd()
        return SignedPrekeyPair(id: id, keyPair: keyPair, signature: signature, createdAt: createdAt)
    }

    static func encode(_ pair: OneTimePrekeyPair) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + 4 + 32 + 32)
        writer.write(version)
        writer.write(pair.id)
        writer.writeSecret(pair.keyPair.secretKey.secret)
        writer.writeRaw(pair.keyPair.publicKey.bytes)
        return writer.bytes
    }

    static func decodeOneTimePrekey(_ bytes: [UInt8]) throws(DecodingError) -> OneTimePrekeyPair {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "one-time prekey")
        let id = try reader.readUInt32("one-time prekey id")
        let keyPair = try readX25519Pair(&reader, "one-time prekey")
        try reader.expectEnd()
        return OneTimePrekeyPair(id: id, keyPair: keyPair)
    }

    /// An ML-KEM prekey: id, last-resort flag, seed (secret), public key, signature, created at.
    static func encode(_ pair: KEMPrekeyPair) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + 4 + 1 + MLKEMSecretKey.seedByteCount + MLKEMPublicKey.byteCount + 64 + 8)
        writer.write(version)
        writer.write(pair.id)
        writer.write(pair.isLastResort)
        writer.writeSecret(pair.keyPair.secretKey.seed)
        writer.writeRaw(pair.keyPair.publicKey.bytes)
        writer.writeRaw(pair.signature.bytes)
        writer.write(pair.createdAt.millisecondsSinceEpoch)
        return writer.bytes
    }

    static func decodeKEMPrekey(_ bytes: [UInt8]) throws(DecodingError) -> KEMPrekeyPair {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "ML-KEM prekey")
        let id = try reader.readUInt32("ML-KEM prekey id")
        let isLastResort = try reader.readBool("ML-KEM prekey last resort")
        let seed = try reader.readSecret(MLKEMSecretKey.seedByteCount, "ML-KEM prekey seed")
        let publicBytes = try reader.readRaw(MLKEMPublicKey.byteCount, "ML-KEM prekey public key")
        let signatureBytes = try reader.readRaw(Ed25519Signature.byteCount, "ML-KEM prekey signature")
        let createdAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("ML-KEM prekey created at"))
        try reader.expectEnd()
        return try checked("ML-KEM prekey") { () throws(CryptoError) in
            KEMPrekeyPair(
                id: id, keyPair: MLKEMKeyPair(publicKey: try MLKEMPublicKey(bytes: publicBytes), secretKey: try MLKEMSecretKey(seed: seed)),
                signature: try Ed25519Signature(bytes: signatureBytes), isLastResort: isLastResort, createdAt: createdAt)
        }
    }

    // MARK: Contacts

    static func encode(_ contact: Contact) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + 4 + 32 + 32 + 3)
        writer.write(version)
        writer.writeString(contact.username.value)
        writer.writeRaw(contact.identityKey.bytes)
        writer.write(contact.status.rawValue)
        writer.write(contact.verified)
        writer.write(contact.identityChanged)
        return writer.bytes
    }

    static func decodeContact(_ bytes: [UInt8]) throws(DecodingError) -> Contact {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "contact")
        let username = try readUsername(&reader, "contact username")
        let identityKey = try readEd25519(&reader, "contact identity key")
        let rawStatus = try reader.readUInt8("contact status")
        guard let status = Contact.Status(rawValue: rawStatus) else {
            throw .invalidValue(field: "contact status", reason: "unknown status \(rawStatus)")
        }
        let verified = try reader.readBool("contact verified")
        let identityChanged = try reader.readBool("contact identity changed")
        try reader.expectEnd()
        return Contact(username: username, identityKey: identityKey, status: status, verified: verified, identityChanged: identityChanged)
    }

    // MARK: History

    private enum BodyTag: UInt8 {
        /// u32 length || UTF-8 text.
        case text = 1
        /// Schema 2: u32 length || the path of a plain PNG file || width || height. Read only by
        /// the migration to schema 3, which seals the file and rewrites the entry.
        case legacyImagePath = 2
        /// blob id (16) || file key (32) || width || height.
        case sealedImage = 3
    }

    static func encode(_ entry: HistoryEntry) -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.write(version)
        writer.writeRaw(entry.id.bytes)
        writer.writeString(entry.peer.value)
        writer.write(entry.direction.rawValue)
        switch entry.body {
        case .text(let text):
            writer.write(BodyTag.text.rawValue)
            writer.writeString(text)
        case .image(let reference, let width, let height):
            writer.write(BodyTag.sealedImage.rawValue)
            writer.writeRaw(reference.blobID.bytes)
            writer.writeSecret(reference.fileKey.secret)
            writer.write(width)
            writer.write(height)
        }
        writer.write(entry.sentAt.millisecondsSinceEpoch)
        writer.write(entry.receivedAt.millisecondsSinceEpoch)
        writer.write(entry.status.rawValue)
        writer.write(entry.isRequest)
        return writer.bytes
    }

    /// A history entry as stored, whose image may still be a schema-2 plain file.
    struct StoredHistoryEntry {
        enum Body {
            case current(HistoryEntry.Body)
            case legacyImage(path: String, width: UInt32, height: UInt32)
        }
        let id: MessageID
        let peer: Username
        let direction: HistoryEntry.Direction
        let body: Body
        let sentAt: Timestamp
        let receivedAt: Timestamp
        let status: HistoryEntry.Status
        let isRequest: Bool

        func entry(with body: HistoryEntry.Body) -> HistoryEntry {
            HistoryEntry(id: id, peer: peer, direction: direction, body: body, sentAt: sentAt, receivedAt: receivedAt, status: status, isRequest: isRequest)
        }
    }

    /// An entry of the current layout.
    /// - Throws: `DecodingError.invalidValue` for a schema-2 image entry the migration has not
    ///   rewritten yet (it cannot be shown: its file is not sealed).
    static func decodeHistoryEntry(_ bytes: [UInt8]) throws(DecodingError) -> HistoryEntry {
        let stored = try decodeStoredHistoryEntry(bytes)
        guard case .current(let body) = stored.body else {
            throw .invalidValue(field: "body tag", reason: "an image entry of schema 2 that was not migrated")
        }
        return stored.entry(with: body)
    }

    static func decodeStoredHistoryEntry(_ bytes: [UInt8]) throws(DecodingError) -> StoredHistoryEntry {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "history entry")
        let id = try MessageID(bytes: reader.readRaw(MessageID.byteCount, "message id"))
        let peer = try readUsername(&reader, "history peer")
        let rawDirection = try reader.readUInt8("direction")
        guard let direction = HistoryEntry.Direction(rawValue: rawDirection) else {
            throw .invalidValue(field: "direction", reason: "unknown direction \(rawDirection)")
        }
        let rawTag = try reader.readUInt8("body tag")
        let body: StoredHistoryEntry.Body
        switch BodyTag(rawValue: rawTag) {
        case .text:
            body = .current(.text(try reader.readString("text", limit: SQLiteClientStore.Limits.maxTextBytes)))
        case .legacyImagePath:
            let path = try reader.readString("image path", limit: SQLiteClientStore.Limits.maxImagePathBytes)
            body = .legacyImage(path: path, width: try reader.readUInt32("image width"), height: try reader.readUInt32("image height"))
        case .sealedImage:
            let blobBytes = try reader.readRaw(ImageBlobID.byteCount, "image blob id")
            let blobID = try checked("image blob id") { () throws(CryptoError) in try ImageBlobID(bytes: blobBytes) }
            let keyBytes = try reader.readSecret(SymmetricKey.byteCount, "image file key")
            let fileKey = try checked("image file key") { () throws(CryptoError) in try SymmetricKey(keyBytes) }
            let reference = SealedImageReference(blobID: blobID, fileKey: fileKey)
            body = .current(.image(reference, width: try reader.readUInt32("image width"), height: try reader.readUInt32("image height")))
        case nil:
            throw .invalidValue(field: "body tag", reason: "unknown body \(rawTag)")
        }
        let sentAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("sent at"))
        let receivedAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("received at"))
        let rawStatus = try reader.readUInt8("status")
        guard let status = HistoryEntry.Status(rawValue: rawStatus) else {
            throw .invalidValue(field: "status", reason: "unknown status \(rawStatus)")
        }
        let isRequest = try reader.readBool("is request")
        try reader.expectEnd()
        return StoredHistoryEntry(
            id: id, peer: peer, direction: direction, body: body, sentAt: sentAt, receivedAt: receivedAt, status: status,
            isRequest: isRequest)
    }

    // MARK: Settings

    static func encodeSetting(key: String, value: [UInt8]) -> [UInt8] {
        var writer = ByteWriter(capacity: 1 + 8 + key.utf8.count + value.count)
        writer.write(version)
        writer.writeString(key)
        writer.writeVariable(value)
        return writer.bytes
    }

    static func decodeSetting(_ bytes: [UInt8]) throws(DecodingError) -> (key: String, value: [UInt8]) {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "setting")
        let key = try reader.readString("setting key", limit: SQLiteClientStore.Limits.maxSettingKeyBytes)
        let value = try reader.readVariable("setting value", limit: SQLiteClientStore.Limits.maxSettingValueBytes)
        try reader.expectEnd()
        return (key, value)
    }

    // MARK: Sent-message log

    /// version || peer || message content (its own versioned encoding, u32 length) || envelope id
    /// (u64) || accepted at (i64 ms) || logged at (i64 ms) || resends (u8) || resend pending (u8 0/1).
    static func encode(_ message: SentMessage) -> [UInt8] {
        let content = message.content.encoded
        var writer = ByteWriter(capacity: 64 + content.count)
        writer.write(version)
        writer.writeString(message.peer.value)
        writer.writeVariable(content)
        writer.write(message.envelopeID)
        writer.write(message.acceptedAt.millisecondsSinceEpoch)
        writer.write(message.loggedAt.millisecondsSinceEpoch)
        writer.write(UInt8(clamping: message.resends))
        writer.write(message.resendPending)
        return writer.bytes
    }

    static func decodeSentMessage(_ bytes: [UInt8]) throws(DecodingError) -> SentMessage {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "sent message")
        let peer = try readUsername(&reader, "sent message peer")
        let content = try MessageContent(decoding: reader.readVariable("sent message content", limit: EnvelopeLimits.maxContentBytes))
        let envelopeID = try reader.readUInt64("sent message envelope id")
        let acceptedAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("sent message accepted at"))
        let loggedAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("sent message logged at"))
        let resends = Int(try reader.readUInt8("sent message resends"))
        let resendPending = try reader.readBool("sent message resend pending")
        try reader.expectEnd()
        return SentMessage(
            peer: peer, content: content, envelopeID: envelopeID, acceptedAt: acceptedAt, loggedAt: loggedAt, resends: resends,
            resendPending: resendPending)
    }

    // MARK: Fields

    private static func readVersion(_ reader: inout ByteReader, _ record: String) throws(DecodingError) {
        let found = try reader.readUInt8("\(record) version")
        guard found == version else {
            throw .invalidValue(field: "\(record) version", reason: "unsupported version \(found)")
        }
    }

    private static func readUsername(_ reader: inout ByteReader, _ field: String) throws(DecodingError) -> Username {
        let raw = try reader.readString(field, limit: SQLiteClientStore.Limits.maxUsernameBytes)
        do { return try Username(raw) } catch { throw .invalidValue(field: field, reason: error.description) }
    }

    private static func readEd25519(_ reader: inout ByteReader, _ field: String) throws(DecodingError) -> Ed25519PublicKey {
        let bytes = try reader.readRaw(Ed25519PublicKey.byteCount, field)
        return try checked(field) { () throws(CryptoError) in try Ed25519PublicKey(bytes: bytes) }
    }

    private static func readX25519Pair(_ reader: inout ByteReader, _ record: String) throws(DecodingError) -> X25519KeyPair {
        let secret = try reader.readSecret(X25519SecretKey.byteCount, "\(record) secret key")
        let publicBytes = try reader.readRaw(X25519PublicKey.byteCount, "\(record) public key")
        return try checked(record) { () throws(CryptoError) in
            X25519KeyPair(secretKey: try X25519SecretKey(secret), publicKey: try X25519PublicKey(bytes: publicBytes))
        }
    }

    /// Runs a key type's length check, reporting a failure as a decoding error of `field`.
    private static func checked<T>(_ field: String, _ make: () throws(CryptoError) -> T) throws(DecodingError) -> T {
        do { return try make() } catch { throw .invalidValue(field: field, reason: "\(error)") }
    }
}

// MARK: Events

extension ClientRecordCoding {
    private enum EventTag: UInt8 {
        case message = 1, receipts = 2, requestDeclined = 3, identityChanged = 4, connection = 5
    }

    /// `version || at || cursor || tag || fields`; the cursor is also bound into the seal.
    static func encode(_ logged: LoggedEvent) -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.write(version)
        writer.write(logged.at.millisecondsSinceEpoch)
        writer.write(logged.cursor)
        switch logged.event {
        case .message(let entry):
            writer.write(EventTag.message.rawValue)
            writer.writeVariable(encode(entry))
        case .receipts(let peer, let ids, let status):
            writer.write(EventTag.receipts.rawValue)
            writer.writeString(peer.value)
            writer.write(status.rawValue)
            writer.write(UInt32(ids.count))
            for id in ids { writer.writeRaw(id.bytes) }
        case .requestDeclined(let peer):
            writer.write(EventTag.requestDeclined.rawValue)
            writer.writeString(peer.value)
        case .identityChanged(let peer):
            writer.write(EventTag.identityChanged.rawValue)
            writer.writeString(peer.value)
        case .connection(let connected, let reason):
            writer.write(EventTag.connection.rawValue)
            writer.write(connected)
            writer.writeString(reason)
        }
        return writer.bytes
    }

    static func decodeLoggedEvent(_ bytes: [UInt8]) throws(DecodingError) -> LoggedEvent {
        var reader = ByteReader(bytes)
        try readVersion(&reader, "event")
        let at = Timestamp(millisecondsSinceEpoch: try reader.readInt64("event time"))
        let cursor = try reader.readUInt64("event cursor")
        let rawTag = try reader.readUInt8("event tag")
        let event: DurableEvent
        switch EventTag(rawValue: rawTag) {
        case .message:
            let entryBytes = try reader.readVariable("event message", limit: SQLiteClientStore.Limits.maxTextBytes + 4096)
            event = .message(try decodeHistoryEntry(entryBytes))
        case .receipts:
            let peer = try readUsername(&reader, "event peer")
            let rawStatus = try reader.readUInt8("event status")
            guard let status = HistoryEntry.Status(rawValue: rawStatus) else {
                throw .invalidValue(field: "event status", reason: "unknown status \(rawStatus)")
            }
            let count = try reader.readUInt32("event receipt count")
            guard count <= UInt32(EnvelopeLimits.maxReceiptIDs) else {
                throw .invalidValue(field: "event receipt count", reason: "\(count) ids")
            }
            var ids: [MessageID] = []
            for _ in 0..<count { ids.append(try MessageID(bytes: reader.readRaw(MessageID.byteCount, "event receipt id"))) }
            event = .receipts(peer: peer, ids: ids, status: status)
        case .requestDeclined:
            event = .requestDeclined(try readUsername(&reader, "event peer"))
        case .identityChanged:
            event = .identityChanged(try readUsername(&reader, "event peer"))
        case .connection:
            let connected = try reader.readBool("event connected")
            event = .connection(connected: connected, reason: try reader.readString("event reason", limit: 1024))
        case nil:
            throw .invalidValue(field: "event tag", reason: "unknown event \(rawTag)")
        }
        try reader.expectEnd()
        return LoggedEvent(cursor: cursor, at: at, event: event)
    }
}
