import Primitives

/// Record serialisation, so that a store can persist it (sealed: it holds ratchet secrets).
///
/// ```
/// record = version (u8 = 2) || peer (u32 length || UTF-8) || has current (u8 0/1)
///          [ current session ] || previous count (u8, <= 40) || previous sessions, newest first
///          || processed delivery count (u16, <= 512) || delivery ids (u64 each), oldest first
/// ```
/// Each session is its version 1 encoding (``Session/serialized()``), which is self-delimiting.
/// Version 1 of this format is a bare session: what client schema 1 stored per peer before
/// records existed. It still decodes, as a record whose current session it is, so a database
/// written by that version is read correctly even before its migration has rewritten it.
extension SessionRecord {
    /// The version written by ``serialized()``.
    public static let encodingVersion: UInt8 = 2

    /// The record as bytes in secret storage.
    public func serialized() -> SecretBytes {
        let skipped = sessions.reduce(0) { $0 + $1.ratchet.skippedMessageKeyCount }
        var writer = ByteWriter(capacity: 64 + sessions.count * 512 + skipped * 68)
        writer.write(Self.encodingVersion)
        writer.writeString(peer.value)
        writer.write(current != nil)
        current?.write(to: &writer)
        writer.write(UInt8(previous.count))
        for session in previous { session.write(to: &writer) }
        writer.write(UInt16(processedDeliveries.count))
        for id in processedDeliveries { writer.write(id) }
        return writer.finishSecret()
    }

    /// Restores a record from ``serialized()``, or from a version 1 bare session.
    /// - Throws: ``DecodingError`` for anything that is not a complete, valid encoding, for more
    ///   previous sessions than the limit, and for a session with someone other than the record's
    ///   peer.
    public init(deserializing secret: SecretBytes) throws(DecodingError) {
        // Read in place: the serialised record holds every key of every session in it.
        var reader = ByteReader(secret: secret)
        let version = try reader.readUInt8("session record version")
        switch version {
        case Session.encodingVersion:
            var legacy = ByteReader(secret: secret)
            let session = try Session(from: &legacy)
            try legacy.expectEnd()
            self.init(peer: session.peer, current: session)
        case Self.encodingVersion:
            let peer = try reader.readUsername("record peer")
            let current = try reader.readBool("has current session") ? try Session(from: &reader) : nil
            let count = Int(try reader.readUInt8("previous session count"))
            guard count <= ConversationLimits.maxPreviousSessions else {
                throw .tooLong(field: "previous sessions", length: count, limit: ConversationLimits.maxPreviousSessions)
            }
            var previous: [Session] = []
            for _ in 0..<count { previous.append(try Session(from: &reader)) }
            let deliveryCount = Int(try reader.readUInt16("processed delivery count"))
            guard deliveryCount <= ConversationLimits.maxRememberedDeliveries else {
                throw .tooLong(field: "processed deliveries", length: deliveryCount, limit: ConversationLimits.maxRememberedDeliveries)
            }
            var deliveries: [UInt64] = []
            for _ in 0..<deliveryCount { deliveries.append(try reader.readUInt64("processed delivery id")) }
            try reader.expectEnd()
            guard ([current].compactMap { $0 } + previous).allSatisfy({ $0.peer == peer }) else {
                throw .invalidValue(field: "session peer", reason: "a session in the record is with someone else")
            }
            self.init(peer: peer, current: current, previous: previous, processedDeliveries: deliveries)
        default:
            throw .invalidValue(field: "session record version", reason: "unsupported \(version)")
        }
    }
}
