import Primitives

/// What travels end to end: an encrypted message with its ratchet header and, for the messages
/// that start a session, the X3DH prelude. The server stores and forwards it as opaque bytes.
///
/// There are no signatures: authenticity comes from the AEAD under keys only the two parties can
/// derive, which keeps the conversation deniable.
public struct CiphertextEnvelope: Hashable, Sendable {
    /// The current encoding version.
    public static let version: UInt8 = 1

    /// Present until the sender has heard back from the recipient.
    public let prelude: PrekeyPrelude?
    public let header: RatchetHeader
    /// XChaCha20-Poly1305 ciphertext of the padded content, tag included.
    public let ciphertext: [UInt8]

    public init(prelude: PrekeyPrelude?, header: RatchetHeader, ciphertext: [UInt8]) {
        self.prelude = prelude
        self.header = header
        self.ciphertext = ciphertext
    }
}

extension CiphertextEnvelope {
    private enum Kind: UInt8 {
        case message = 1
        /// A classical X3DH prelude (before PQXDH): decoded, never produced for a new session.
        case prekeyMessage = 2
        /// A PQXDH prelude: the X3DH fields, then the ML-KEM prekey id and ciphertext.
        case pqPrekeyMessage = 3
    }

    /// version (u8) || kind (u8) || [prelude: IK (32) || EK (32) || SPK id (u32) || has OTPK (u8)
    /// || OTPK id (u32) || [kind 3: KEM prekey id (u32) || KEM ciphertext (1568)]] || header (40)
    /// || ciphertext length (u32) || ciphertext.
    public var encoded: [UInt8] {
        var writer = ByteWriter(capacity: 2 + 73 + 4 + MLKEMCiphertext.byteCount + RatchetHeader.byteCount + 4 + ciphertext.count)
        writer.write(Self.version)
        if let prelude {
            writer.write((prelude.kem == nil ? Kind.prekeyMessage : Kind.pqPrekeyMessage).rawValue)
            writer.writeRaw(prelude.identityKey.bytes)
            writer.writeRaw(prelude.ephemeralKey.bytes)
            writer.write(prelude.signedPrekeyID)
            writer.write(prelude.oneTimePrekeyID != nil)
            writer.write(prelude.oneTimePrekeyID ?? 0)
            if let kem = prelude.kem {
                writer.write(kem.prekeyID)
                writer.writeRaw(kem.ciphertext.bytes)
            }
        } else {
            writer.write(Kind.message.rawValue)
        }
        header.write(to: &writer)
        writer.writeVariable(ciphertext)
        return writer.bytes
    }

    /// Decodes an envelope. Any byte string yields a value or a typed error, never a trap.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        guard bytes.count <= EnvelopeLimits.maxEnvelopeBytes else {
            throw .tooLong(field: "envelope", length: bytes.count, limit: EnvelopeLimits.maxEnvelopeBytes)
        }
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("version")
        guard version == Self.version else {
            throw .invalidValue(field: "version", reason: "unsupported envelope version \(version)")
        }
        let rawKind = try reader.readUInt8("kind")
        guard let kind = Kind(rawValue: rawKind) else {
            throw .invalidValue(field: "kind", reason: "unknown envelope kind \(rawKind)")
        }
        switch kind {
        case .message:
            prelude = nil
        case .prekeyMessage, .pqPrekeyMessage:
            let identity = try reader.readRaw(Ed25519PublicKey.byteCount, "identity key")
            let ephemeral = try reader.readRaw(X25519PublicKey.byteCount, "ephemeral key")
            let signedPrekeyID = try reader.readUInt32("signed prekey id")
            let hasOneTimePrekey = try reader.readBool("has one-time prekey")
            let oneTimePrekeyID = try reader.readUInt32("one-time prekey id")
            // Without a one-time prekey the id field is always written as 0; refusing anything
            // else keeps the encoding canonical (one byte string per envelope).
            guard hasOneTimePrekey || oneTimePrekeyID == 0 else {
                throw .invalidValue(field: "one-time prekey id", reason: "set without a one-time prekey")
            }
            var kemFields: (id: UInt32, ciphertext: [UInt8])?
            if kind == .pqPrekeyMessage {
                kemFields = (try reader.readUInt32("ML-KEM prekey id"), try reader.readRaw(MLKEMCiphertext.byteCount, "ML-KEM ciphertext"))
            }
            do {
                prelude = PrekeyPrelude(
                    identityKey: try Ed25519PublicKey(bytes: identity),
                    ephemeralKey: try X25519PublicKey(bytes: ephemeral),
                    signedPrekeyID: signedPrekeyID,
                    oneTimePrekeyID: hasOneTimePrekey ? oneTimePrekeyID : nil,
                    kem: try kemFields.map { fields throws(CryptoError) in
                        KEMPrelude(prekeyID: fields.id, ciphertext: try MLKEMCiphertext(bytes: fields.ciphertext))
                    })
            } catch {
                throw .invalidValue(field: "prelude", reason: "\(error)")
            }
        }
        header = try RatchetHeader(from: &reader)
        ciphertext = try reader.readVariable("ciphertext", limit: EnvelopeLimits.maxCiphertextBytes)
        guard ciphertext.count >= 16 else {
            throw .invalidValue(field: "ciphertext", reason: "shorter than the authentication tag")
        }
        try reader.expectEnd()
    }
}
