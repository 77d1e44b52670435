import Foundation
import Prekeys
import Primitives
import Testing
import WireProtocol

@Suite("Wire codec")
struct WireCodecTests {
    static let identity = fixture { try Ed25519PublicKey(bytes: [UInt8](repeating: 1, count: 32)) }
    static let x = fixture { try X25519PublicKey(bytes: [UInt8](repeating: 2, count: 32)) }
    static let signature = fixture { try Ed25519Signature(bytes: [UInt8](repeating: 3, count: 64)) }
    static let spk = SignedPrekey(id: 7, publicKey: x, signature: signature)
    static let otpks = [OneTimePrekey(id: 1, publicKey: x), OneTimePrekey(id: 2, publicKey: x)]
    static let alice = fixture { try Username("alice") }
    static let binding = fixture { try Ed25519Signature(bytes: [UInt8](repeating: 4, count: 64)) }

    static var requests: [Request.Body] {
        [
            .register(
                username: alice, password: SecretBytes(copying: Array("hunter22!".utf8)), identityKey: identity, identitySignature: binding,
                signedPrekey: spk, oneTimePrekeys: otpks),
            .login(username: alice, password: SecretBytes(copying: Array("pässword".utf8))),
            .logout, .deleteAccount(password: SecretBytes(copying: [1, 2, 3])),
            .publishPrekeys(signedPrekey: spk, oneTimePrekeys: []), .publishPrekeys(signedPrekey: nil, oneTimePrekeys: otpks),
            .fetchBundle(username: alice), .identity(username: alice), .prekeyCount, .send(recipient: alice, recipientIdentity: identity, envelope: [9, 9, 9]),
            .acknowledge(ids: [1, UInt64.max]), .block(username: alice), .unblock(username: alice), .ping, .prekeyStatus,
        ]
    }

    static let responses: [Response.Body] = [
        .ok, .loggedIn(pending: 12),
        .bundle(UnverifiedPrekeyBundle(identityKey: identity, signedPrekey: spk, oneTimePrekey: otpks[0])),
        .bundle(UnverifiedPrekeyBundle(identityKey: identity, signedPrekey: spk, oneTimePrekey: nil)),
        .bundle(UnverifiedPrekeyBundle(identityKey: identity, identitySignature: binding, signedPrekey: spk, oneTimePrekey: otpks[1])),
        .identity(PublishedIdentity(identityKey: identity, signature: binding)),
        .identity(PublishedIdentity(identityKey: identity, signature: nil)),
        .prekeyCount(99), .accepted(envelopeID: 42, acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)), .pong,
        .error(WireError(.throttled, "try again in 2 s")),
        .prekeyStatus(heldIDs: []), .prekeyStatus(heldIDs: [1, 5, .max]),
    ]

    static let pushes: [Push] = [
        .delivery(Delivery(id: 5, sender: alice, acceptedAt: Timestamp(millisecondsSinceEpoch: 3), envelope: [1, 2])),
        .signedInElsewhere, .prekeysLow(remaining: 3),
    ]

    /// Requests hold secrets and are not Equatable; compare their encodings after a round trip.
    @Test("every request round trips")
    func requests() throws {
        for (index, body) in Self.requests.enumerated() {
            let bytes = WireCodec.encode(.request(Request(id: UInt32(index), body: body)))
            guard case .request(let decoded) = try WireCodec.decode(bytes) else {
                Issue.record("not a request")
                continue
            }
            #expect(decoded.id == UInt32(index))
            #expect(WireCodec.encode(.request(decoded)) == bytes)
        }
    }

    @Test("every response and push round trips")
    func responsesAndPushes() throws {
        for body in Self.responses {
            guard case .response(let decoded) = try WireCodec.decode(WireCodec.encode(.response(Response(requestID: 77, body: body)))) else {
                Issue.record("not a response")
                continue
            }
            #expect(decoded == Response(requestID: 77, body: body))
        }
        for push in Self.pushes {
            guard case .push(let decoded) = try WireCodec.decode(WireCodec.encode(.push(push))) else {
                Issue.record("not a push")
                continue
            }
            #expect(decoded == push)
        }
    }

    @Test("every truncation is a typed error, and the request id survives for the error reply")
    func truncations() {
        for body in Self.requests {
            let bytes = WireCodec.encode(.request(Request(id: 0xabcdef, body: body)))
            for length in 0..<bytes.count {
                #expect(throws: DecodingError.self) { try WireCodec.decode(Array(bytes.prefix(length))) }
            }
            #expect(WireCodec.requestID(ofUndecodable: Array(bytes.prefix(7))) == 0xabcdef)
        }
    }

    @Test("the register and bundle forms without an identity binding are retired, and a retired register is recognised")
    func retiredForms() throws {
        let register = WireCodec.encode(.request(Request(id: 5, body: Self.requests[0])))
        #expect(register[6] == 13, "register is request tag 13")
        #expect(!WireCodec.isRetiredRequest(register))
        // A previous client's register: tag 1, no identity signature.
        var old = Array(register.prefix(6)) + [1]
        old += Array(register[7...]).prefix(4 + 5 + 4 + 9 + 32) + Array(register[(7 + 54 + 64)...])
        #expect(throws: DecodingError.self) { try WireCodec.decode(old) }
        #expect(WireCodec.isRetiredRequest(old))
        #expect(WireCodec.requestID(ofUndecodable: old) == 5)
        #expect(!WireCodec.isRetiredRequest(WireCodec.encode(.request(Request(id: 5, body: .ping)))))
        // A bundle response with tag 3 (no binding) is no longer read.
        var bundle = WireCodec.encode(.response(Response(requestID: 1, body: Self.responses[2])))
        bundle[6] = 3
        #expect(throws: DecodingError.self) { try WireCodec.decode(bundle) }
    }

    @Test("hostile counts and lengths are refused before allocation")
    func hostileCounts() {
        let ack = [WireLimits.version, 1, 0, 0, 0, 1, 9, 0xff, 0xff, 0xff, 0xff]
        #expect(throws: DecodingError.tooLong(field: "ack ids", length: 0xffff_ffff, limit: WireLimits.maxAcknowledgedIDs)) { try WireCodec.decode(ack) }
        let login = [WireLimits.version, 1, 0, 0, 0, 1, 2, 0, 0, 0, 5] + Array("alice".utf8) + [0xff, 0xff, 0xff, 0xff]
        #expect(throws: DecodingError.tooLong(field: "password", length: 0xffff_ffff, limit: WireLimits.maxPasswordBytes)) { try WireCodec.decode(login) }
        let badName = [WireLimits.version, 1, 0, 0, 0, 1, 6, 0, 0, 0, 2] + Array("AB".utf8)
        #expect(throws: DecodingError.self) { try WireCodec.decode(badName) }
        #expect(throws: DecodingError.invalidValue(field: "version", reason: "unsupported protocol version 9")) { try WireCodec.decode([9, 1]) }
        #expect(throws: DecodingError.trailingBytes(count: 1)) { try WireCodec.decode(WireCodec.encode(.push(.signedInElsewhere)) + [0]) }
    }

    @Test("random frames never trap the decoder")
    func randomFrames() {
        var state: UInt64 = 99
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        for round in 0..<20_000 {
            var bytes = (0..<Int(next() % 80)).map { _ in UInt8(truncatingIfNeeded: next()) }
            if bytes.count > 6 {
                bytes[0] = WireLimits.version
                bytes[1] = UInt8(1 + round % 3)
            }
            _ = try? WireCodec.decode(bytes)
        }
    }

    @Test("a prekey status answer claiming more ids than the bound is refused before allocating")
    func prekeyStatusIsBounded() throws {
        let full = WireCodec.encode(.response(Response(requestID: 1, body: .prekeyStatus(heldIDs: Array(0..<UInt32(WireLimits.maxReportedPrekeyIDs))))))
        guard case .response(let decoded) = try WireCodec.decode(full), case .prekeyStatus(let ids) = decoded.body else {
            Issue.record("the bound itself decodes")
            return
        }
        #expect(ids.count == WireLimits.maxReportedPrekeyIDs)
        // version, kind, request id, tag, then a count one over the bound.
        var header: [UInt8] = [WireLimits.version, 2, 0, 0, 0, 1, 10]  // response tag 10: prekey status
        let over = UInt32(WireLimits.maxReportedPrekeyIDs + 1)
        header += [UInt8(over >> 24), UInt8(truncatingIfNeeded: over >> 16), UInt8(truncatingIfNeeded: over >> 8), UInt8(truncatingIfNeeded: over)]
        #expect(throws: DecodingError.tooLong(field: "prekey ids", length: Int(over), limit: WireLimits.maxReportedPrekeyIDs)) {
            try WireCodec.decode(header)
        }
        // The encoder never writes more than the bound.
        let long = WireCodec.encode(.response(Response(requestID: 1, body: .prekeyStatus(heldIDs: Array(0..<UInt32(5000))))))
        #expect(throws: Never.self) { try WireCodec.decode(long) }
    }
}


/// Issue 10, finding 10: `WireCodec.encode(_: Request) -> [UInt8]` claimed a "secret
/// storage-friendly" result for requests carrying passwords but returned a plain array, and
/// nothing called it. It is gone; this keeps it from coming back under that promise.
@Test("the request-only encoder that returned passwords in a plain array is gone")
func requestOnlyEncoderIsGone() throws {
    let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/WireProtocol/WireCodec.swift")
    let text = try String(contentsOf: source, encoding: .utf8)
    #expect(!text.contains("static func encode(_ request: Request)"))
    #expect(!text.contains("storage-friendly"))
}

/// Builds a constant test fixture; an invalid one is a bug in the test itself.
func fixture<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { preconditionFailure("invalid test fixture: \(error)") }
}
