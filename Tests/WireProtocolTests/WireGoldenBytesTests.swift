import Prekeys
import Primitives
import Testing
import WireProtocol

/// Golden bytes for every message kind, written by hand from WIRE.md (not from the encoder), so an
/// encoder and decoder that agree with each other but not with the document fail here: each
/// message must encode to exactly these bytes, and these bytes must decode to exactly its fields.
@Suite("Wire golden bytes (from WIRE.md)")
struct WireGoldenBytesTests {
    // Distinct filler per field, so a field written in another's place is visible.
    static let identityBytes = [UInt8](repeating: 0x11, count: 32)
    static let signedKeyBytes = [UInt8](repeating: 0x22, count: 32)
    static let signatureBytes = [UInt8](repeating: 0x33, count: 64)
    static let oneTimeKeyBytes = [UInt8](repeating: 0x44, count: 32)
    static let otherOneTimeKeyBytes = [UInt8](repeating: 0x55, count: 32)

    static let identity = fixture { try Ed25519PublicKey(bytes: identityBytes) }
    static let signedPrekey = SignedPrekey(
        id: 0x0102_0304, publicKey: fixture { try X25519PublicKey(bytes: signedKeyBytes) },
        signature: fixture { try Ed25519Signature(bytes: signatureBytes) })
    static let oneTimePrekeys = [
        OneTimePrekey(id: 0x0a0b_0c0d, publicKey: fixture { try X25519PublicKey(bytes: oneTimeKeyBytes) }),
        OneTimePrekey(id: 7, publicKey: fixture { try X25519PublicKey(bytes: otherOneTimeKeyBytes) }),
    ]
    static let alice = fixture { try Username("alice") }
    static let kemKeyBytes = [UInt8](repeating: 0x77, count: 1568)
    static let kemSignatureBytes = [UInt8](repeating: 0x88, count: 64)
    static let kemPrekey = KEMPrekey(
        id: 0x0506_0708, publicKey: fixture { try MLKEMPublicKey(bytes: kemKeyBytes) },
        signature: fixture { try Ed25519Signature(bytes: kemSignatureBytes) })

    /// WIRE.md's field encodings, spelled out byte by byte.
    struct Golden {
        var bytes: [UInt8] = []
        func u8(_ value: UInt8) -> Golden { appending([value]) }
        func u16(_ value: UInt16) -> Golden { appending([UInt8(value >> 8), UInt8(value & 0xff)]) }
        func u32(_ value: UInt32) -> Golden { appending((0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }) }
        func u64(_ value: UInt64) -> Golden { appending((0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }) }
        func i64(_ value: Int64) -> Golden { u64(UInt64(bitPattern: value)) }
        func raw(_ value: [UInt8]) -> Golden { appending(value) }
        /// `string`, `bytes`, `username`, `secret`: u32 length, then the bytes.
        func lengthPrefixed(_ value: [UInt8]) -> Golden { u32(UInt32(value.count)).raw(value) }
        func string(_ value: String) -> Golden { lengthPrefixed(Array(value.utf8)) }
        /// signed prekey = id u32, key 32, signature 64.
        func signedPrekey() -> Golden { u32(0x0102_0304).raw(signedKeyBytes).raw(signatureBytes) }
        /// ML-KEM prekey = id u32, key 1568, signature 64.
        func kemPrekey() -> Golden { u32(0x0506_0708).raw(kemKeyBytes).raw(kemSignatureBytes) }
        /// one-time prekeys = count u32, then id u32 + key 32 each.
        func oneTimePrekeys() -> Golden { u32(2).u32(0x0a0b_0c0d).raw(oneTimeKeyBytes).u32(7).raw(otherOneTimeKeyBytes) }

        private func appending(_ more: [UInt8]) -> Golden { Golden(bytes: bytes + more) }

        /// version (u8 = 1) || kind 1 || request id (u32) || tag (u8).
        static func request(id: UInt32, tag: UInt8) -> Golden { Golden().u8(1).u8(1).u32(id).u8(tag) }
        /// version (u8 = 1) || kind 2 || request id (u32) || tag (u8).
        static func response(id: UInt32, tag: UInt8) -> Golden { Golden().u8(1).u8(2).u32(id).u8(tag) }
        /// version (u8 = 1) || kind 3 || tag (u8).
        static func push(tag: UInt8) -> Golden { Golden().u8(1).u8(3).u8(tag) }
    }

    // MARK: Requests (not Equatable: they hold secrets, so fields are compared one by one)

    static let identitySignatureBytes = [UInt8](repeating: 0x66, count: 64)
    static let identitySignature = fixture { try Ed25519Signature(bytes: identitySignatureBytes) }

    @Test("register (tag 13, with the identity signature)")
    func register() throws {
        let golden = Golden.request(id: 0xdead_beef, tag: 13)
            .string("alice").lengthPrefixed(Array("hunter22!".utf8)).raw(Self.identityBytes).raw(Self.identitySignatureBytes)
            .signedPrekey().oneTimePrekeys().bytes
        let message = Request(id: 0xdead_beef, body: .register(
            username: Self.alice, password: SecretBytes(copying: Array("hunter22!".utf8)), identityKey: Self.identity,
            identitySignature: Self.identitySignature, signedPrekey: Self.signedPrekey, oneTimePrekeys: Self.oneTimePrekeys))
        #expect(WireCodec.encode(.request(message)) == golden)
        let decoded = try decodeRequest(golden, id: 0xdead_beef)
        guard case let .register(username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys) = decoded else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(username == Self.alice)
        #expect(password == SecretBytes(copying: Array("hunter22!".utf8)))
        #expect(identityKey == Self.identity)
        #expect(identitySignature == Self.identitySignature)
        #expect(signedPrekey == Self.signedPrekey)
        #expect(oneTimePrekeys == Self.oneTimePrekeys)
    }

    @Test("login (tag 2), with a UTF-8 password")
    func login() throws {
        let password = Array("pässword".utf8)
        let golden = Golden.request(id: 2, tag: 2).string("alice").lengthPrefixed(password).bytes
        #expect(WireCodec.encode(.request(Request(id: 2, body: .login(username: Self.alice, password: SecretBytes(copying: password))))) == golden)
        guard case let .login(username, decodedPassword) = try decodeRequest(golden, id: 2) else {
            Issue.record("not a login")
            return
        }
        #expect(username == Self.alice)
        #expect(decodedPassword == SecretBytes(copying: password))
    }

    @Test("logout (3), prekey count (7), ping (12), prekey status (15) and ML-KEM prekey status (17) carry no fields")
    func fieldlessRequests() throws {
        let cases: [(Request.Body, UInt8)] = [(.logout, 3), (.prekeyCount, 7), (.ping, 12), (.prekeyStatus, 15), (.kemPrekeyStatus, 17)]
        for (body, tag) in cases {
            let golden = Golden.request(id: 0x0100_0000 + UInt32(tag), tag: tag).bytes
            #expect(golden.count == 7)
            #expect(WireCodec.encode(.request(Request(id: 0x0100_0000 + UInt32(tag), body: body))) == golden, "tag \(tag)")
            let decoded = try decodeRequest(golden, id: 0x0100_0000 + UInt32(tag))
            switch (decoded, tag) {
            case (.logout, 3), (.prekeyCount, 7), (.ping, 12), (.prekeyStatus, 15), (.kemPrekeyStatus, 17): break
            default: Issue.record("tag \(tag) decoded as \(decoded)")
            }
        }
    }

    @Test("delete account (tag 4)")
    func deleteAccount() throws {
        let golden = Golden.request(id: 4, tag: 4).lengthPrefixed([1, 2, 3]).bytes
        #expect(WireCodec.encode(.request(Request(id: 4, body: .deleteAccount(password: SecretBytes(copying: [1, 2, 3]))))) == golden)
        guard case let .deleteAccount(password) = try decodeRequest(golden, id: 4) else {
            Issue.record("not a delete account")
            return
        }
        #expect(password == SecretBytes(copying: [1, 2, 3]))
    }

    @Test("publish prekeys (tag 5), with and without a signed prekey")
    func publishPrekeys() throws {
        let withSigned = Golden.request(id: 5, tag: 5).u8(1).signedPrekey().u32(0).bytes
        #expect(WireCodec.encode(.request(Request(id: 5, body: .publishPrekeys(signedPrekey: Self.signedPrekey, oneTimePrekeys: [])))) == withSigned)
        guard case let .publishPrekeys(signed, oneTime) = try decodeRequest(withSigned, id: 5) else {
            Issue.record("not a publish")
            return
        }
        #expect(signed == Self.signedPrekey)
        #expect(oneTime.isEmpty)

        let withoutSigned = Golden.request(id: 6, tag: 5).u8(0).oneTimePrekeys().bytes
        #expect(WireCodec.encode(.request(Request(id: 6, body: .publishPrekeys(signedPrekey: nil, oneTimePrekeys: Self.oneTimePrekeys)))) == withoutSigned)
        guard case let .publishPrekeys(noSigned, prekeys) = try decodeRequest(withoutSigned, id: 6) else {
            Issue.record("not a publish")
            return
        }
        #expect(noSigned == nil)
        #expect(prekeys == Self.oneTimePrekeys)
    }

    @Test("publish ML-KEM prekeys (tag 16), with and without a last-resort key")
    func publishKEMPrekeys() throws {
        let withLastResort = Golden.request(id: 16, tag: 16).u8(1).kemPrekey().u32(1).kemPrekey().bytes
        #expect(WireCodec.encode(.request(Request(id: 16, body: .publishKEMPrekeys(lastResort: Self.kemPrekey, oneTime: [Self.kemPrekey])))) == withLastResort)
        guard case let .publishKEMPrekeys(lastResort, oneTime) = try decodeRequest(withLastResort, id: 16) else {
            Issue.record("not a publish")
            return
        }
        #expect(lastResort == Self.kemPrekey)
        #expect(oneTime == [Self.kemPrekey])
        let without = Golden.request(id: 17, tag: 16).u8(0).u32(0).bytes
        #expect(WireCodec.encode(.request(Request(id: 17, body: .publishKEMPrekeys(lastResort: nil, oneTime: [])))) == without)
        guard case let .publishKEMPrekeys(none, empty) = try decodeRequest(without, id: 17) else {
            Issue.record("not a publish")
            return
        }
        #expect(none == nil && empty.isEmpty)
    }

    @Test("fetch bundle (6), block (10), unblock (11) and identity (14) carry one username")
    func usernameRequests() throws {
        let cases: [(Request.Body, UInt8)] = [
            (.fetchBundle(username: Self.alice), 6), (.block(username: Self.alice), 10), (.unblock(username: Self.alice), 11),
            (.identity(username: Self.alice), 14),
        ]
        for (body, tag) in cases {
            let golden = Golden.request(id: UInt32(tag), tag: tag).string("alice").bytes
            #expect(WireCodec.encode(.request(Request(id: UInt32(tag), body: body))) == golden, "tag \(tag)")
            switch (try decodeRequest(golden, id: UInt32(tag)), tag) {
            case (.fetchBundle(let username), 6), (.block(let username), 10), (.unblock(let username), 11), (.identity(let username), 14):
                #expect(username == Self.alice)
            case (let other, _):
                Issue.record("tag \(tag) decoded as \(other)")
            }
        }
    }

    @Test("send (tag 8)")
    func send() throws {
        let envelope: [UInt8] = [9, 8, 7, 6, 5]
        let golden = Golden.request(id: 8, tag: 8).string("alice").raw(Self.identityBytes).lengthPrefixed(envelope).bytes
        #expect(WireCodec.encode(.request(Request(id: 8, body: .send(recipient: Self.alice, recipientIdentity: Self.identity, envelope: envelope)))) == golden)
        guard case let .send(recipient, recipientIdentity, decodedEnvelope) = try decodeRequest(golden, id: 8) else {
            Issue.record("not a send")
            return
        }
        #expect(recipient == Self.alice)
        #expect(recipientIdentity == Self.identity)
        #expect(decodedEnvelope == envelope)
    }

    @Test("acknowledge (tag 9)")
    func acknowledge() throws {
        let golden = Golden.request(id: 9, tag: 9).u32(3).u64(1).u64(0x0102_0304_0506_0708).u64(.max).bytes
        #expect(WireCodec.encode(.request(Request(id: 9, body: .acknowledge(ids: [1, 0x0102_0304_0506_0708, .max])))) == golden)
        guard case let .acknowledge(ids) = try decodeRequest(golden, id: 9) else {
            Issue.record("not an acknowledge")
            return
        }
        #expect(ids == [1, 0x0102_0304_0506_0708, .max])
    }

    // MARK: Responses and pushes (Equatable: every field is compared)

    static let responses: [(name: String, body: Response.Body, golden: [UInt8])] = [
        ("ok", .ok, Golden.response(id: 0x0a0b_0c0d, tag: 1).bytes),
        ("logged in", .loggedIn(pending: 0x0102_0304), Golden.response(id: 0x0a0b_0c0d, tag: 2).u32(0x0102_0304).bytes),
        ("bundle with a one-time prekey (tag 8: published identity with its signature)",
         .bundle(UnverifiedPrekeyBundle(identityKey: identity, identitySignature: identitySignature, signedPrekey: signedPrekey, oneTimePrekey: oneTimePrekeys[0])),
         Golden.response(id: 0x0a0b_0c0d, tag: 8).raw(identityBytes).u8(1).raw(identitySignatureBytes).signedPrekey().u8(1).u32(0x0a0b_0c0d)
            .raw(oneTimeKeyBytes).bytes),
        ("bundle without, of an account registered before identity signatures",
         .bundle(UnverifiedPrekeyBundle(identityKey: identity, identitySignature: nil, signedPrekey: signedPrekey, oneTimePrekey: nil)),
         Golden.response(id: 0x0a0b_0c0d, tag: 8).raw(identityBytes).u8(0).signedPrekey().u8(0).bytes),
        ("identity (tag 9)", .identity(PublishedIdentity(identityKey: identity, signature: identitySignature)),
         Golden.response(id: 0x0a0b_0c0d, tag: 9).raw(identityBytes).u8(1).raw(identitySignatureBytes).bytes),
        ("prekey status (tag 10)", .prekeyStatus(heldIDs: [7, 0x0a0b_0c0d]),
         Golden.response(id: 0x0a0b_0c0d, tag: 10).u32(2).u32(7).u32(0x0a0b_0c0d).bytes),
        ("prekey count", .prekeyCount(99), Golden.response(id: 0x0a0b_0c0d, tag: 4).u32(99).bytes),
        ("bundle with an ML-KEM prekey (tag 11), one-time",
         .bundle(UnverifiedPrekeyBundle(
            identityKey: identity, identitySignature: identitySignature, signedPrekey: signedPrekey, oneTimePrekey: oneTimePrekeys[0],
            kemPrekey: BundledKEMPrekey(kemPrekey, isLastResort: false))),
         Golden.response(id: 0x0a0b_0c0d, tag: 11).raw(identityBytes).u8(1).raw(identitySignatureBytes).signedPrekey().u8(1).u32(0x0a0b_0c0d)
            .raw(oneTimeKeyBytes).u8(0).kemPrekey().bytes),
        ("bundle with the last-resort ML-KEM prekey (tag 11), without a one-time prekey",
         .bundle(UnverifiedPrekeyBundle(
            identityKey: identity, identitySignature: identitySignature, signedPrekey: signedPrekey, oneTimePrekey: nil,
            kemPrekey: BundledKEMPrekey(kemPrekey, isLastResort: true))),
         Golden.response(id: 0x0a0b_0c0d, tag: 11).raw(identityBytes).u8(1).raw(identitySignatureBytes).signedPrekey().u8(0).u8(1).kemPrekey().bytes),
        ("ML-KEM prekey status (tag 12)", .kemPrekeyStatus(oneTimeIDs: [3, 0x0102_0304], lastResortID: 9),
         Golden.response(id: 0x0a0b_0c0d, tag: 12).u32(2).u32(3).u32(0x0102_0304).u8(1).u32(9).bytes),
        ("ML-KEM prekey status without a last-resort key", .kemPrekeyStatus(oneTimeIDs: [], lastResortID: nil),
         Golden.response(id: 0x0a0b_0c0d, tag: 12).u32(0).u8(0).u32(0).bytes),
        ("accepted", .accepted(envelopeID: 0x0102_0304_0506_0708, acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_123)),
         Golden.response(id: 0x0a0b_0c0d, tag: 5).u64(0x0102_0304_0506_0708).i64(1_700_000_000_123).bytes),
        ("pong", .pong, Golden.response(id: 0x0a0b_0c0d, tag: 6).bytes),
        ("error", .error(WireError(.mailboxFull, "full")), Golden.response(id: 0x0a0b_0c0d, tag: 7).u16(30).string("full").bytes),
    ]

    @Test("every response (tags 1, 2, 4-12)", arguments: 0..<14)
    func response(_ index: Int) throws {
        let (name, body, golden) = Self.responses[index]
        let message = Response(requestID: 0x0a0b_0c0d, body: body)
        #expect(WireCodec.encode(.response(message)) == golden, "\(name)")
        guard case .response(let decoded) = try WireCodec.decode(golden) else {
            Issue.record("\(name): not a response")
            return
        }
        #expect(decoded.requestID == 0x0a0b_0c0d)
        #expect(decoded.body == body, "\(name)")
    }

    @Test("error codes are the stable numbers WIRE.md lists")
    func errorCodes() throws {
        let expected: [(WireError.Code, UInt16)] = [
            (.malformedRequest, 1), (.unsupportedVersion, 2), (.usernameTaken, 10), (.invalidUsername, 11), (.weakPassword, 12),
            (.invalidCredentials, 13), (.throttled, 14), (.notAuthenticated, 15), (.alreadyAuthenticated, 16), (.unknownUser, 20),
            (.noPrekeys, 21), (.invalidPrekeys, 22), (.identityChanged, 23), (.mailboxFull, 30), (.refused, 31), (.tooLarge, 40),
            (.internalError, 50), (.unavailable, 51), (.identityKeyTaken, 17), (.invalidIdentityBinding, 18), (.busy, 52),
        ]
        for (code, number) in expected {
            let golden = Golden.response(id: 1, tag: 7).u16(number).string("").bytes
            #expect(WireCodec.encode(.response(Response(requestID: 1, body: .error(WireError(code, ""))))) == golden, "\(code)")
            #expect(try decodedResponse(golden) == Response(requestID: 1, body: .error(WireError(code, ""))), "\(code)")
        }
    }

    static let pushes: [(name: String, push: Push, golden: [UInt8])] = [
        ("delivery",
         .delivery(Delivery(id: 0x1112_1314_1516_1718, sender: alice, acceptedAt: Timestamp(millisecondsSinceEpoch: -2), envelope: [0xaa, 0xbb])),
         Golden.push(tag: 1).u64(0x1112_1314_1516_1718).string("alice").i64(-2).lengthPrefixed([0xaa, 0xbb]).bytes),
        ("signed in elsewhere", .signedInElsewhere, Golden.push(tag: 2).bytes),
        ("prekeys low", .prekeysLow(remaining: 24), Golden.push(tag: 3).u32(24).bytes),
    ]

    @Test("every push (tags 1-3)", arguments: 0..<3)
    func push(_ index: Int) throws {
        let (name, push, golden) = Self.pushes[index]
        #expect(WireCodec.encode(.push(push)) == golden, "\(name)")
        #expect(try decodedPush(golden) == push, "\(name)")
    }

    // MARK: Helpers

    private func decodeRequest(_ bytes: [UInt8], id: UInt32, sourceLocation: SourceLocation = #_sourceLocation) throws -> Request.Body {
        guard case .request(let request) = try WireCodec.decode(bytes) else {
            Issue.record("not a request", sourceLocation: sourceLocation)
            throw GoldenMismatch()
        }
        #expect(request.id == id, sourceLocation: sourceLocation)
        return request.body
    }

    private func decodedResponse(_ bytes: [UInt8]) throws -> Response? {
        if case .response(let response) = try WireCodec.decode(bytes) { return response }
        return nil
    }

    private func decodedPush(_ bytes: [UInt8]) throws -> Push? {
        if case .push(let push) = try WireCodec.decode(bytes) { return push }
        return nil
    }

    struct GoldenMismatch: Error {}
}
