import Envelope
import Prekeys
import Primitives
import WireProtocol

/// The wire codec (`WireCodec`, WIRE.md), the first thing that reads a peer's bytes.
///
/// Property, for every input that decodes: encoding the decoded message gives back the input byte
/// for byte, except for the two normalisations the codec makes on purpose (a username's A-Z read
/// as a-z; an unknown error code from a newer server read as `internal-error`); the re-encoding
/// decodes and encodes to itself; and `requestID(ofUndecodable:)` agrees with a decoded request.
/// So nothing is dropped, invented or reinterpreted between the wire and the value.
public enum WireCodecProperty {
    public static let target = FuzzTarget(name: "wire-codec", check: check, seeds: seeds)

    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        guard let message = try? WireCodec.decode(input) else { return }
        let reencoded = WireCodec.encode(message)
        var expected = input
        if case .response(let response) = message, case .error(let error) = response.body, error.code == .internalError,
            expected.count >= 9
        {
            // version, kind, request id (4), tag, then the u16 code: an unknown one reads as 50.
            expected[7] = 0
            expected[8] = UInt8(WireError.Code.internalError.rawValue)
        }
        try require(equalUpToUsernameCase(expected, reencoded), "re-encoding differs from the input: \(reencoded.count) vs \(input.count) bytes")
        let again: WireMessage
        do { again = try WireCodec.decode(reencoded) } catch {
            throw PropertyViolation("the re-encoding does not decode: \(error)")
        }
        try require(WireCodec.encode(again) == reencoded, "the re-encoding is not a fixed point")
        if case .request(let request) = message {
            try require(WireCodec.requestID(ofUndecodable: input) == request.id, "requestID(ofUndecodable:) disagrees with the decoded id")
        }
    }

    static func seeds() -> [[UInt8]] {
        fixture {
            let alice = try Username("alice")
            let identity = try Ed25519PublicKey(bytes: key(1))
            let signed = SignedPrekey(id: 7, publicKey: try X25519PublicKey(bytes: key(2)), signature: try Ed25519Signature(bytes: key(3) + key(4)))
            let oneTime = [OneTimePrekey(id: 100, publicKey: try X25519PublicKey(bytes: key(5))), OneTimePrekey(id: 101, publicKey: try X25519PublicKey(bytes: key(6)))]
            let password = SecretBytes(copying: Array("correct horse battery".utf8))
            let requests: [Request.Body] = [
                .register(
                    username: alice, password: password, identityKey: identity, identitySignature: try Ed25519Signature(bytes: key(7) + key(8)),
                    signedPrekey: signed, oneTimePrekeys: oneTime),
                .identity(username: alice),
                .login(username: alice, password: password), .logout, .deleteAccount(password: password),
                .publishPrekeys(signedPrekey: signed, oneTimePrekeys: oneTime), .publishPrekeys(signedPrekey: nil, oneTimePrekeys: []),
                .fetchBundle(username: alice), .prekeyCount,
                .send(recipient: alice, recipientIdentity: identity, envelope: Array(repeating: 0xAB, count: 40)),
                .acknowledge(ids: [1, 2, 0xFFFF_FFFF_FFFF]), .block(username: alice), .unblock(username: alice), .ping,
            ]
            let responses: [Response.Body] = [
                .ok, .loggedIn(pending: 3), .bundle(UnverifiedPrekeyBundle(identityKey: identity, signedPrekey: signed, oneTimePrekey: oneTime[0])),
                .bundle(UnverifiedPrekeyBundle(identityKey: identity, signedPrekey: signed, oneTimePrekey: nil)), .prekeyCount(42),
                .bundle(UnverifiedPrekeyBundle(
                    identityKey: identity, identitySignature: try Ed25519Signature(bytes: key(7) + key(8)), signedPrekey: signed, oneTimePrekey: nil)),
                .identity(PublishedIdentity(identityKey: identity, signature: try Ed25519Signature(bytes: key(7) + key(8)))),
                .accepted(envelopeID: 9, acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)), .pong,
                .error(WireError(.mailboxFull, "mailbox full")),
            ]
            let pushes: [Push] = [
                .delivery(Delivery(id: 5, sender: alice, acceptedAt: Timestamp(millisecondsSinceEpoch: 1), envelope: [1, 2, 3])),
                .signedInElsewhere, .prekeysLow(remaining: 4),
            ]
            return requests.enumerated().map { WireCodec.encode(.request(Request(id: UInt32($0.offset + 1), body: $0.element))) }
                + responses.enumerated().map { WireCodec.encode(.response(Response(requestID: UInt32($0.offset + 1), body: $0.element))) }
                + pushes.map { WireCodec.encode(.push($0)) }
        }
    }
}
