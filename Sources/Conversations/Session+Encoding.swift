import Envelope
import Primitives

/// Session state serialisation, so that a store can persist it (sealed: it holds secrets).
extension Session {
    /// The version byte that starts a session's encoding.
    public static let encodingVersion: UInt8 = 1

    /// The session alone as bytes in secret storage: the version 1 format, which is also how each
    /// session is written inside a ``SessionRecord``.
    public func serialized() -> SecretBytes {
        var writer = ByteWriter(capacity: 2_200 + ratchet.skipped.count * 68)
        write(to: &writer)
        return writer.finishSecret()
    }

    /// Restores a session from ``serialized()``.
    /// - Throws: ``DecodingError`` for anything that is not a complete, valid encoding.
    public init(deserializing secret: SecretBytes) throws(DecodingError) {
        // Read in place: the serialised session holds every key of the ratchet.
        var reader = ByteReader(secret: secret)
        try self.init(from: &reader)
        try reader.expectEnd()
    }

    /// Appends the encoding (version byte first); self-delimiting, so records can chain sessions.
    func write(to writer: inout ByteWriter) {
        writer.write(Self.encodingVersion)
        writer.writeString(peer.value)
        writer.writeRaw(peerIdentityKey.bytes)
        writer.writeRaw(localIdentityKey.bytes)
        writer.writeRaw(baseKey.bytes)
        // The prelude marker: 0 none, 1 a classical X3DH prelude (sessions made before PQXDH),
        // 2 a PQXDH prelude, followed by its ML-KEM prekey id and ciphertext. Sessions written
        // before PQXDH used only 0 and 1 (a bool), so they read unchanged.
        writer.write(UInt8(pendingPrelude == nil ? 0 : pendingPrelude?.kem == nil ? 1 : 2))
        if let prelude = pendingPrelude {
            writer.writeRaw(prelude.identityKey.bytes)
            writer.writeRaw(prelude.ephemeralKey.bytes)
            writer.write(prelude.signedPrekeyID)
            writer.write(prelude.oneTimePrekeyID != nil)
            writer.write(prelude.oneTimePrekeyID ?? 0)
            if let kem = prelude.kem {
                writer.write(kem.prekeyID)
                writer.writeRaw(kem.ciphertext.bytes)
            }
        }
        ratchet.write(to: &writer)
    }

    /// Reads one session written by ``write(to:)``, leaving the reader after it.
    init(from reader: inout ByteReader) throws(DecodingError) {
        let version = try reader.readUInt8("session version")
        guard version == Self.encodingVersion else {
            throw .invalidValue(field: "session version", reason: "unsupported \(version)")
        }
        peer = try reader.readUsername("peer")
        peerIdentityKey = try reader.readEd25519("peer identity")
        localIdentityKey = try reader.readEd25519("local identity")
        baseKey = try reader.readX25519("base key")
        let preludeMarker = try reader.readUInt8("has prelude")
        guard preludeMarker <= 2 else { throw .invalidValue(field: "has prelude", reason: "unknown marker \(preludeMarker)") }
        if preludeMarker > 0 {
            let identity = try reader.readEd25519("prelude identity")
            let ephemeral = try reader.readX25519("prelude ephemeral")
            let signedPrekeyID = try reader.readUInt32("prelude signed prekey id")
            let hasOneTime = try reader.readBool("prelude has one-time prekey")
            let oneTimeID = try reader.readUInt32("prelude one-time prekey id")
            var kem: KEMPrelude?
            if preludeMarker == 2 {
                let kemID = try reader.readUInt32("prelude ML-KEM prekey id")
                let ciphertext = try reader.readRaw(MLKEMCiphertext.byteCount, "prelude ML-KEM ciphertext")
                do { kem = KEMPrelude(prekeyID: kemID, ciphertext: try MLKEMCiphertext(bytes: ciphertext)) } catch {
                    throw .invalidValue(field: "prelude ML-KEM ciphertext", reason: "\(error)")
                }
            }
            pendingPrelude = PrekeyPrelude(
                identityKey: identity, ephemeralKey: ephemeral, signedPrekeyID: signedPrekeyID, oneTimePrekeyID: hasOneTime ? oneTimeID : nil, kem: kem)
        } else {
            pendingPrelude = nil
        }
        ratchet = try DoubleRatchet(from: &reader)
    }
}

extension DoubleRatchet {
    func write(to writer: inout ByteWriter) {
        writer.writeSecret(rootKey.secret)
        writer.writeSecret(sendingRatchetKey.secretKey.secret)
        writer.writeRaw(sendingRatchetKey.publicKey.bytes)
        writer.write(remoteRatchetKey != nil)
        writer.writeRaw(remoteRatchetKey?.bytes ?? [UInt8](repeating: 0, count: 32))
        writer.write(sendingChain != nil)
        if let sendingChain { writer.writeSecret(sendingChain.secret) } else { writer.writeRaw([UInt8](repeating: 0, count: 32)) }
        writer.write(receivingChain != nil)
        if let receivingChain { writer.writeSecret(receivingChain.secret) } else { writer.writeRaw([UInt8](repeating: 0, count: 32)) }
        writer.write(sendingCount)
        writer.write(receivingCount)
        writer.write(previousSendingCount)
        writer.writeVariable(associatedData)
        writer.write(UInt32(skipped.count))
        for entry in skipped.entries {
            writer.writeRaw(entry.slot.ratchetKey.bytes)
            writer.write(entry.slot.messageNumber)
            writer.writeSecret(entry.key.secret)
        }
    }

    init(from reader: inout ByteReader) throws(DecodingError) {
        rootKey = RootKey(secret: try reader.readSecret(32, "root key"))
        let sendingSecret = try reader.readSecret(32, "sending ratchet secret")
        let sendingPublic = try reader.readX25519("sending ratchet public")
        do {
            sendingRatchetKey = X25519KeyPair(secretKey: try X25519SecretKey(sendingSecret), publicKey: sendingPublic)
        } catch {
            throw .invalidValue(field: "sending ratchet secret", reason: "\(error)")
        }
        let hasRemote = try reader.readBool("has remote ratchet key")
        let remote = try reader.readX25519("remote ratchet key")
        remoteRatchetKey = hasRemote ? remote : nil
        let hasSending = try reader.readBool("has sending chain")
        let sending = try reader.readSecret(32, "sending chain")
        sendingChain = hasSending ? ChainKey(secret: sending) : nil
        let hasReceiving = try reader.readBool("has receiving chain")
        let receiving = try reader.readSecret(32, "receiving chain")
        receivingChain = hasReceiving ? ChainKey(secret: receiving) : nil
        sendingCount = try reader.readUInt32("sending count")
        receivingCount = try reader.readUInt32("receiving count")
        previousSendingCount = try reader.readUInt32("previous sending count")
        associatedData = try reader.readVariable("associated data", limit: ConversationLimits.maxAssociatedDataBytes)
        let skippedCount = Int(try reader.readUInt32("skipped count"))
        guard skippedCount <= ConversationLimits.maxSkippedMessageKeys else {
            throw .tooLong(field: "skipped keys", length: skippedCount, limit: ConversationLimits.maxSkippedMessageKeys)
        }
        var skipped = SkippedMessageKeys()
        for _ in 0..<skippedCount {
            let key = try reader.readX25519("skipped ratchet key")
            let number = try reader.readUInt32("skipped message number")
            skipped.insert(MessageKey(secret: try reader.readSecret(32, "skipped message key")), for: .init(ratchetKey: key, messageNumber: number))
        }
        self.skipped = skipped
    }
}

extension ByteReader {
    mutating func readUsername(_ field: String) throws(DecodingError) -> Username {
        let text = try readString(field, limit: 64)
        do { return try Username(text) } catch { throw .invalidValue(field: field, reason: "\(error)") }
    }

    mutating func readX25519(_ field: String) throws(DecodingError) -> X25519PublicKey {
        let bytes = try readRaw(X25519PublicKey.byteCount, field)
        do { return try X25519PublicKey(bytes: bytes) } catch { throw .invalidValue(field: field, reason: "\(error)") }
    }

    mutating func readEd25519(_ field: String) throws(DecodingError) -> Ed25519PublicKey {
        let bytes = try readRaw(Ed25519PublicKey.byteCount, field)
        do { return try Ed25519PublicKey(bytes: bytes) } catch { throw .invalidValue(field: field, reason: "\(error)") }
    }
}
