import Prekeys
import Primitives

/// The binary codec for ``WireMessage`` (documented in WIRE.md). Bounded: every count and length
/// is checked against ``WireLimits`` before allocation, and any byte string decodes to a message
/// or a typed ``DecodingError``.
public enum WireCodec {
    private enum Kind: UInt8 { case request = 1, response = 2, push = 3 }

    /// Tags are never reused. `retiredRegister` (1, register without an identity binding) and
    /// `retiredBundle` (3, a bundle without one) are the identity-binding change's old forms: a
    /// request with tag 1 is refused with ``WireError/Code/unsupportedVersion`` (see
    /// ``isRetiredRequest(_:)``), and no server sends tag 3 any more.
    private enum RequestTag: UInt8 {
        case retiredRegister = 1, login, logout, deleteAccount, publishPrekeys, fetchBundle, prekeyCount, send, acknowledge, block, unblock, ping
        case register = 13, identity, prekeyStatus
        case publishKEMPrekeys = 16, kemPrekeyStatus
    }

    private enum ResponseTag: UInt8 {
        case ok = 1, loggedIn, retiredBundle, prekeyCount, accepted, pong, error
        case bundle = 8, identity, prekeyStatus
        /// A bundle with an ML-KEM prekey (PQXDH); tag 8 remains the form without one.
        case pqBundle = 11, kemPrekeyStatus
    }

    private enum PushTag: UInt8 {
        case delivery = 1, signedInElsewhere, prekeysLow
    }

    // MARK: Encoding

    public static func encode(_ message: WireMessage) -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        writer.write(WireLimits.version)
        switch message {
        case .request(let request):
            writer.write(Kind.request.rawValue)
            writer.write(request.id)
            encode(request.body, into: &writer)
        case .response(let response):
            writer.write(Kind.response.rawValue)
            writer.write(response.requestID)
            encode(response.body, into: &writer)
        case .push(let push):
            writer.write(Kind.push.rawValue)
            encode(push, into: &writer)
        }
        return writer.bytes
    }

    private static func encode(_ body: Request.Body, into writer: inout ByteWriter) {
        switch body {
        case let .register(username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys):
            writer.write(RequestTag.register.rawValue)
            writer.writeString(username.value)
            writeSecret(password, into: &writer)
            writer.writeRaw(identityKey.bytes)
            writer.writeRaw(identitySignature.bytes)
            write(signedPrekey, into: &writer)
            write(oneTimePrekeys, into: &writer)
        case let .login(username, password):
            writer.write(RequestTag.login.rawValue)
            writer.writeString(username.value)
            writeSecret(password, into: &writer)
        case .logout:
            writer.write(RequestTag.logout.rawValue)
        case .deleteAccount(let password):
            writer.write(RequestTag.deleteAccount.rawValue)
            writeSecret(password, into: &writer)
        case let .publishPrekeys(signedPrekey, oneTimePrekeys):
            writer.write(RequestTag.publishPrekeys.rawValue)
            writer.write(signedPrekey != nil)
            if let signedPrekey { write(signedPrekey, into: &writer) }
            write(oneTimePrekeys, into: &writer)
        case .fetchBundle(let username):
            writer.write(RequestTag.fetchBundle.rawValue)
            writer.writeString(username.value)
        case .identity(let username):
            writer.write(RequestTag.identity.rawValue)
            writer.writeString(username.value)
        case .prekeyCount:
            writer.write(RequestTag.prekeyCount.rawValue)
        case .prekeyStatus:
            writer.write(RequestTag.prekeyStatus.rawValue)
        case let .publishKEMPrekeys(lastResort, oneTime):
            writer.write(RequestTag.publishKEMPrekeys.rawValue)
            writer.write(lastResort != nil)
            if let lastResort { write(lastResort, into: &writer) }
            writer.write(UInt32(oneTime.count))
            for prekey in oneTime { write(prekey, into: &writer) }
        case .kemPrekeyStatus:
            writer.write(RequestTag.kemPrekeyStatus.rawValue)
        case let .send(recipient, recipientIdentity, envelope):
            writer.write(RequestTag.send.rawValue)
            writer.writeString(recipient.value)
            writer.writeRaw(recipientIdentity.bytes)
            writer.writeVariable(envelope)
        case .acknowledge(let ids):
            writer.write(RequestTag.acknowledge.rawValue)
            writer.write(UInt32(ids.count))
            for id in ids { writer.write(id) }
        case .block(let username):
            writer.write(RequestTag.block.rawValue)
            writer.writeString(username.value)
        case .unblock(let username):
            writer.write(RequestTag.unblock.rawValue)
            writer.writeString(username.value)
        case .ping:
            writer.write(RequestTag.ping.rawValue)
        }
    }

    private static func encode(_ body: Response.Body, into writer: inout ByteWriter) {
        switch body {
        case .ok:
            writer.write(ResponseTag.ok.rawValue)
        case .loggedIn(let pending):
            writer.write(ResponseTag.loggedIn.rawValue)
            writer.write(pending)
        case .bundle(let bundle):
            writer.write((bundle.kemPrekey == nil ? ResponseTag.bundle : ResponseTag.pqBundle).rawValue)
            write(PublishedIdentity(identityKey: bundle.identityKey, signature: bundle.identitySignature), into: &writer)
            write(bundle.signedPrekey, into: &writer)
            writer.write(bundle.oneTimePrekey != nil)
            if let oneTime = bundle.oneTimePrekey {
                writer.write(oneTime.id)
                writer.writeRaw(oneTime.publicKey.bytes)
            }
            if let kem = bundle.kemPrekey {
                writer.write(kem.isLastResort)
                write(kem.prekey, into: &writer)
            }
        case let .kemPrekeyStatus(oneTimeIDs, lastResortID):
            let reported = oneTimeIDs.prefix(WireLimits.maxReportedPrekeyIDs)
            writer.write(ResponseTag.kemPrekeyStatus.rawValue)
            writer.write(UInt32(reported.count))
            for id in reported { writer.write(id) }
            writer.write(lastResortID != nil)
            writer.write(lastResortID ?? 0)
        case .identity(let identity):
            writer.write(ResponseTag.identity.rawValue)
            write(identity, into: &writer)
        case .prekeyCount(let count):
            writer.write(ResponseTag.prekeyCount.rawValue)
            writer.write(count)
        case .prekeyStatus(let ids):
            // Never more than the bound the decoder enforces.
            let reported = ids.prefix(WireLimits.maxReportedPrekeyIDs)
            writer.write(ResponseTag.prekeyStatus.rawValue)
            writer.write(UInt32(reported.count))
            for id in reported { writer.write(id) }
        case let .accepted(envelopeID, acceptedAt):
            writer.write(ResponseTag.accepted.rawValue)
            writer.write(envelopeID)
            writer.write(acceptedAt.millisecondsSinceEpoch)
        case .pong:
            writer.write(ResponseTag.pong.rawValue)
        case .error(let error):
            writer.write(ResponseTag.error.rawValue)
            writer.write(error.code.rawValue)
            writer.writeString(String(error.message.utf8.prefix(WireLimits.maxErrorMessageBytes)) ?? "")
        }
    }

    private static func encode(_ push: Push, into writer: inout ByteWriter) {
        switch push {
        case .delivery(let delivery):
            writer.write(PushTag.delivery.rawValue)
            writer.write(delivery.id)
            writer.writeString(delivery.sender.value)
            writer.write(delivery.acceptedAt.millisecondsSinceEpoch)
            writer.writeVariable(delivery.envelope)
        case .signedInElsewhere:
            writer.write(PushTag.signedInElsewhere.rawValue)
        case .prekeysLow(let remaining):
            writer.write(PushTag.prekeysLow.rawValue)
            writer.write(remaining)
        }
    }

    private static func writeSecret(_ secret: SecretBytes, into writer: inout ByteWriter) {
        writer.write(UInt32(secret.count))
        writer.writeSecret(secret)
    }

    private static func write(_ identity: PublishedIdentity, into writer: inout ByteWriter) {
        writer.writeRaw(identity.identityKey.bytes)
        writer.write(identity.signature != nil)
        if let signature = identity.signature { writer.writeRaw(signature.bytes) }
    }

    private static func write(_ prekey: SignedPrekey, into writer: inout ByteWriter) {
        writer.write(prekey.id)
        writer.writeRaw(prekey.publicKey.bytes)
        writer.writeRaw(prekey.signature.bytes)
    }

    private static func write(_ prekey: KEMPrekey, into writer: inout ByteWriter) {
        writer.write(prekey.id)
        writer.writeRaw(prekey.publicKey.bytes)
        writer.writeRaw(prekey.signature.bytes)
    }

    private static func write(_ prekeys: [OneTimePrekey], into writer: inout ByteWriter) {
        writer.write(UInt32(prekeys.count))
        for prekey in prekeys {
            writer.write(prekey.id)
            writer.writeRaw(prekey.publicKey.bytes)
        }
    }

    // MARK: Decoding

    /// Decodes one frame.
    /// - Throws: ``DecodingError`` for anything that is not exactly one valid message.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> WireMessage {
        guard bytes.count <= WireLimits.maxFrameBytes else {
            throw .tooLong(field: "frame", length: bytes.count, limit: WireLimits.maxFrameBytes)
        }
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("version")
        guard version == WireLimits.version else {
            throw .invalidValue(field: "version", reason: "unsupported protocol version \(version)")
        }
        let rawKind = try reader.readUInt8("kind")
        let message: WireMessage
        switch Kind(rawValue: rawKind) {
        case .request:
            let id = try reader.readUInt32("request id")
            message = .request(Request(id: id, body: try decodeRequest(&reader)))
        case .response:
            let id = try reader.readUInt32("request id")
            message = .response(Response(requestID: id, body: try decodeResponse(&reader)))
        case .push:
            message = .push(try decodePush(&reader))
        case nil:
            throw .invalidValue(field: "kind", reason: "unknown message kind \(rawKind)")
        }
        try reader.expectEnd()
        return message
    }

    /// The request id of a frame that failed to decode, if its header was readable, so the error
    /// response can still name it.
    public static func requestID(ofUndecodable bytes: [UInt8]) -> UInt32? {
        var reader = ByteReader(bytes)
        guard (try? reader.readUInt8("version")) != nil, (try? reader.readUInt8("kind")) == Kind.request.rawValue else { return nil }
        return try? reader.readUInt32("request id")
    }

    /// Whether a frame that failed to decode is a request this protocol retired (the register
    /// request without an identity binding), so the answer can say "update the client"
    /// (``WireError/Code/unsupportedVersion``) rather than "malformed".
    public static func isRetiredRequest(_ bytes: [UInt8]) -> Bool {
        var reader = ByteReader(bytes)
        guard (try? reader.readUInt8("version")) == WireLimits.version, (try? reader.readUInt8("kind")) == Kind.request.rawValue,
            (try? reader.readUInt32("request id")) != nil
        else { return false }
        return (try? reader.readUInt8("request")) == RequestTag.retiredRegister.rawValue
    }

    private static func decodeRequest(_ reader: inout ByteReader) throws(DecodingError) -> Request.Body {
        let rawTag = try reader.readUInt8("request")
        guard let tag = RequestTag(rawValue: rawTag) else {
            throw .invalidValue(field: "request", reason: "unknown request \(rawTag)")
        }
        switch tag {
        case .retiredRegister:
            throw .invalidValue(field: "request", reason: "register without an identity binding (tag 1) is retired: update the client")
        case .register:
            let username = try readUsername(&reader, "username")
            let password = try readSecret(&reader)
            let identityKey = try readEd25519(&reader, "identity key")
            let identitySignature = try readSignature(&reader, "identity signature")
            let signedPrekey = try readSignedPrekey(&reader)
            let oneTimePrekeys = try readOneTimePrekeys(&reader)
            return .register(
                username: username, password: password, identityKey: identityKey, identitySignature: identitySignature,
                signedPrekey: signedPrekey, oneTimePrekeys: oneTimePrekeys)
        case .login:
            let username = try readUsername(&reader, "username")
            return .login(username: username, password: try readSecret(&reader))
        case .logout:
            return .logout
        case .deleteAccount:
            return .deleteAccount(password: try readSecret(&reader))
        case .publishPrekeys:
            let signedPrekey = try reader.readBool("has signed prekey") ? try readSignedPrekey(&reader) : nil
            return .publishPrekeys(signedPrekey: signedPrekey, oneTimePrekeys: try readOneTimePrekeys(&reader))
        case .fetchBundle:
            return .fetchBundle(username: try readUsername(&reader, "username"))
        case .identity:
            return .identity(username: try readUsername(&reader, "username"))
        case .prekeyCount:
            return .prekeyCount
        case .prekeyStatus:
            return .prekeyStatus
        case .publishKEMPrekeys:
            let lastResort = try reader.readBool("has last-resort ML-KEM prekey") ? try readKEMPrekey(&reader) : nil
            let count = Int(try reader.readUInt32("ML-KEM prekey count"))
            guard count <= WireLimits.maxOneTimePrekeysPerRequest else {
                throw .tooLong(field: "ML-KEM prekeys", length: count, limit: WireLimits.maxOneTimePrekeysPerRequest)
            }
            var oneTime: [KEMPrekey] = []
            oneTime.reserveCapacity(count)
            for _ in 0..<count { oneTime.append(try readKEMPrekey(&reader)) }
            return .publishKEMPrekeys(lastResort: lastResort, oneTime: oneTime)
        case .kemPrekeyStatus:
            return .kemPrekeyStatus
        case .send:
            let recipient = try readUsername(&reader, "recipient")
            let recipientIdentity = try readEd25519(&reader, "recipient identity")
            return .send(recipient: recipient, recipientIdentity: recipientIdentity, envelope: try reader.readVariable("envelope", limit: WireLimits.maxEnvelopeBytes))
        case .acknowledge:
            let count = Int(try reader.readUInt32("ack count"))
            guard count <= WireLimits.maxAcknowledgedIDs else {
                throw .tooLong(field: "ack ids", length: count, limit: WireLimits.maxAcknowledgedIDs)
            }
            var ids: [UInt64] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try reader.readUInt64("ack id")) }
            return .acknowledge(ids: ids)
        case .block:
            return .block(username: try readUsername(&reader, "username"))
        case .unblock:
            return .unblock(username: try readUsername(&reader, "username"))
        case .ping:
            return .ping
        }
    }

    private static func decodeResponse(_ reader: inout ByteReader) throws(DecodingError) -> Response.Body {
        let rawTag = try reader.readUInt8("response")
        guard let tag = ResponseTag(rawValue: rawTag) else {
            throw .invalidValue(field: "response", reason: "unknown response \(rawTag)")
        }
        switch tag {
        case .ok:
            return .ok
        case .loggedIn:
            return .loggedIn(pending: try reader.readUInt32("pending"))
        case .retiredBundle:
            throw .invalidValue(field: "response", reason: "a bundle without an identity binding (tag 3) is retired")
        case .bundle, .pqBundle:
            let identity = try readPublishedIdentity(&reader)
            let signedPrekey = try readSignedPrekey(&reader)
            let oneTimePrekey = try reader.readBool("has one-time prekey") ? try readOneTimePrekey(&reader) : nil
            var kemPrekey: BundledKEMPrekey?
            if tag == .pqBundle {
                let isLastResort = try reader.readBool("ML-KEM prekey is last resort")
                kemPrekey = BundledKEMPrekey(try readKEMPrekey(&reader), isLastResort: isLastResort)
            }
            return .bundle(UnverifiedPrekeyBundle(
                identityKey: identity.identityKey, identitySignature: identity.signature, signedPrekey: signedPrekey, oneTimePrekey: oneTimePrekey,
                kemPrekey: kemPrekey))
        case .kemPrekeyStatus:
            let count = Int(try reader.readUInt32("ML-KEM prekey id count"))
            guard count <= WireLimits.maxReportedPrekeyIDs else {
                throw .tooLong(field: "ML-KEM prekey ids", length: count, limit: WireLimits.maxReportedPrekeyIDs)
            }
            var ids: [UInt32] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try reader.readUInt32("ML-KEM prekey id")) }
            let hasLastResort = try reader.readBool("has last-resort ML-KEM prekey")
            let lastResortID = try reader.readUInt32("last-resort ML-KEM prekey id")
            guard hasLastResort || lastResortID == 0 else {
                throw .invalidValue(field: "last-resort ML-KEM prekey id", reason: "set without a last-resort prekey")
            }
            return .kemPrekeyStatus(oneTimeIDs: ids, lastResortID: hasLastResort ? lastResortID : nil)
        case .identity:
            return .identity(try readPublishedIdentity(&reader))
        case .prekeyCount:
            return .prekeyCount(try reader.readUInt32("count"))
        case .prekeyStatus:
            let count = Int(try reader.readUInt32("prekey id count"))
            guard count <= WireLimits.maxReportedPrekeyIDs else {
                throw .tooLong(field: "prekey ids", length: count, limit: WireLimits.maxReportedPrekeyIDs)
            }
            var ids: [UInt32] = []
            ids.reserveCapacity(count)
            for _ in 0..<count { ids.append(try reader.readUInt32("prekey id")) }
            return .prekeyStatus(heldIDs: ids)
        case .accepted:
            let id = try reader.readUInt64("envelope id")
            return .accepted(envelopeID: id, acceptedAt: Timestamp(millisecondsSinceEpoch: try reader.readInt64("accepted at")))
        case .pong:
            return .pong
        case .error:
            let rawCode = try reader.readUInt16("error code")
            let message = try reader.readString("error message", limit: WireLimits.maxErrorMessageBytes)
            // An unknown code from a newer server is still an error; keep its message.
            return .error(WireError(WireError.Code(rawValue: rawCode) ?? .internalError, message))
        }
    }

    private static func decodePush(_ reader: inout ByteReader) throws(DecodingError) -> Push {
        let rawTag = try reader.readUInt8("push")
        guard let tag = PushTag(rawValue: rawTag) else {
            throw .invalidValue(field: "push", reason: "unknown push \(rawTag)")
        }
        switch tag {
        case .delivery:
            let id = try reader.readUInt64("delivery id")
            let sender = try readUsername(&reader, "sender")
            let acceptedAt = Timestamp(millisecondsSinceEpoch: try reader.readInt64("accepted at"))
            let envelope = try reader.readVariable("envelope", limit: WireLimits.maxEnvelopeBytes)
            return .delivery(Delivery(id: id, sender: sender, acceptedAt: acceptedAt, envelope: envelope))
        case .signedInElsewhere:
            return .signedInElsewhere
        case .prekeysLow:
            return .prekeysLow(remaining: try reader.readUInt32("remaining"))
        }
    }

    private static func readUsername(_ reader: inout ByteReader, _ field: String) throws(DecodingError) -> Username {
        let raw = try reader.readString(field, limit: WireLimits.maxUsernameBytes)
        do { return try Username(raw) } catch { throw .invalidValue(field: field, reason: error.description) }
    }

    private static func readSecret(_ reader: inout ByteReader) throws(DecodingError) -> SecretBytes {
        let length = Int(try reader.readUInt32("password"))
        guard length <= WireLimits.maxPasswordBytes else {
            throw .tooLong(field: "password", length: length, limit: WireLimits.maxPasswordBytes)
        }
        return try reader.readSecret(length, "password")
    }

    private static func readEd25519(_ reader: inout ByteReader, _ field: String) throws(DecodingError) -> Ed25519PublicKey {
        let bytes = try reader.readRaw(32, field)
        do { return try Ed25519PublicKey(bytes: bytes) } catch { throw .invalidValue(field: field, reason: "\(error)") }
    }

    private static func readX25519(_ reader: inout ByteReader, _ field: String) throws(DecodingError) -> X25519PublicKey {
        let bytes = try reader.readRaw(32, field)
        do { return try X25519PublicKey(bytes: bytes) } catch { throw .invalidValue(field: field, reason: "\(error)") }
    }

    private static func readSignature(_ reader: inout ByteReader, _ field: String) throws(DecodingError) -> Ed25519Signature {
        let bytes = try reader.readRaw(64, field)
        do { return try Ed25519Signature(bytes: bytes) } catch { throw .invalidValue(field: field, reason: "\(error)") }
    }

    private static func readPublishedIdentity(_ reader: inout ByteReader) throws(DecodingError) -> PublishedIdentity {
        let identityKey = try readEd25519(&reader, "identity key")
        let signature = try reader.readBool("has identity signature") ? try readSignature(&reader, "identity signature") : nil
        return PublishedIdentity(identityKey: identityKey, signature: signature)
    }

    private static func readSignedPrekey(_ reader: inout ByteReader) throws(DecodingError) -> SignedPrekey {
        let id = try reader.readUInt32("signed prekey id")
        let publicKey = try readX25519(&reader, "signed prekey")
        let signature = try reader.readRaw(64, "signed prekey signature")
        do { return SignedPrekey(id: id, publicKey: publicKey, signature: try Ed25519Signature(bytes: signature)) } catch {
            throw .invalidValue(field: "signed prekey signature", reason: "\(error)")
        }
    }

    private static func readKEMPrekey(_ reader: inout ByteReader) throws(DecodingError) -> KEMPrekey {
        let id = try reader.readUInt32("ML-KEM prekey id")
        let publicKey = try reader.readRaw(MLKEMPublicKey.byteCount, "ML-KEM prekey")
        let signature = try readSignature(&reader, "ML-KEM prekey signature")
        do { return KEMPrekey(id: id, publicKey: try MLKEMPublicKey(bytes: publicKey), signature: signature) } catch {
            throw .invalidValue(field: "ML-KEM prekey", reason: "\(error)")
        }
    }

    private static func readOneTimePrekey(_ reader: inout ByteReader) throws(DecodingError) -> OneTimePrekey {
        let id = try reader.readUInt32("one-time prekey id")
        return OneTimePrekey(id: id, publicKey: try readX25519(&reader, "one-time prekey"))
    }

    private static func readOneTimePrekeys(_ reader: inout ByteReader) throws(DecodingError) -> [OneTimePrekey] {
        let count = Int(try reader.readUInt32("one-time prekey count"))
        guard count <= WireLimits.maxOneTimePrekeysPerRequest else {
            throw .tooLong(field: "one-time prekeys", length: count, limit: WireLimits.maxOneTimePrekeysPerRequest)
        }
        var prekeys: [OneTimePrekey] = []
        prekeys.reserveCapacity(count)
        for _ in 0..<count { prekeys.append(try readOneTimePrekey(&reader)) }
        return prekeys
    }
}
