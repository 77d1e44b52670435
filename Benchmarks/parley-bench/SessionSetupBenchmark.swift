import Conversations
import Envelope
import Foundation
import MLKEMCrypto
import Prekeys
import Primitives
import SodiumCrypto
import WireProtocol

/// Benchmark: what PQXDH costs next to classical X3DH, in the same process (issue 14): the
/// bundle and the first message in bytes, and initiator and responder operations per second,
/// alternating rounds of each so that machine load affects both alike.
///
/// Initiator = verify the bundle's signatures, run the key agreement (PQXDH: plus one ML-KEM
/// encapsulation), start the ratchet and encrypt a first message. Responder = decrypt that first
/// message from its prelude (PQXDH: plus one decapsulation), which runs the responder's key
/// agreement and ratchet step.
struct SessionSetupBenchmark {
    let rounds: Int
    let roundTarget: Duration

    struct Row {
        let name: String
        let pqxdhSamples: [Double]
        let pqxdhNanoseconds: Double
        let x3dhNanoseconds: Double
        var ratio: Double { pqxdhNanoseconds / x3dhNanoseconds }
    }

    struct Result {
        let rows: [Row]
        let pqBundleBytes: Int
        let classicalBundleBytes: Int
        let pqFirstMessageBytes: Int
        let classicalFirstMessageBytes: Int
    }

    func run() throws -> Result {
        Report.heading("session setup: PQXDH (X3DH + ML-KEM-1024) vs classical X3DH (median of \(rounds) rounds)")
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let kem = SwiftCryptoMLKEM()
        let alice = try crypto.generateEd25519KeyPair(using: random)
        let bob = try crypto.generateEd25519KeyPair(using: random)
        let (aliceName, bobName) = (try Username("alice"), try Username("bob"))
        let spkPair = try crypto.generateX25519KeyPair(using: random)
        let spk = SignedPrekeyPair(
            id: 1, keyPair: spkPair, signature: try crypto.sign(SignedPrekey.signedMessage(id: 1, publicKey: spkPair.publicKey), with: bob.secretKey),
            createdAt: Timestamp(millisecondsSinceEpoch: 0))
        let otpk = OneTimePrekeyPair(id: 2, keyPair: try crypto.generateX25519KeyPair(using: random))
        let kemPair = try kem.generateMLKEMKeyPair(using: random)
        let kemPrekey = KEMPrekeyPair(
            id: 3, keyPair: kemPair, signature: try crypto.sign(KEMPrekey.signedMessage(id: 3, publicKey: kemPair.publicKey), with: bob.secretKey),
            isLastResort: false, createdAt: Timestamp(millisecondsSinceEpoch: 0))
        let binding = try IdentityBinding.sign(username: bobName, with: bob, crypto: crypto)
        let pqBundle = UnverifiedPrekeyBundle(
            identityKey: bob.publicKey, identitySignature: binding, signedPrekey: spk.publicPrekey, oneTimePrekey: otpk.publicPrekey,
            kemPrekey: BundledKEMPrekey(kemPrekey.publicPrekey, isLastResort: false))
        let classicalBundle = UnverifiedPrekeyBundle(
            identityKey: bob.publicKey, identitySignature: binding, signedPrekey: spk.publicPrekey, oneTimePrekey: otpk.publicPrekey)
        let verifier = PrekeyBundleVerifier(crypto: crypto)
        let cipher = SessionCipher(crypto: crypto, kem: kem, random: random)
        let x3dh = X3DH(crypto: crypto)
        let content = MessageContent(id: MessageID.random(using: random), sentAt: Timestamp(millisecondsSinceEpoch: 1), body: .text("hello bob"))
        let bobKeys = SessionCipher.ResponderPrekeys(signedPrekeys: [spk], oneTimePrekey: otpk, kemPrekey: kemPrekey)

        func pqInitiate() throws -> CiphertextEnvelope {
            let verified = try verifier.verify(pqBundle, owner: bobName)
            var session = try cipher.startSession(with: verified, peer: bobName, localUsername: aliceName, localIdentity: alice)
            return try cipher.encrypt(content, in: &session)
        }
        // Classical X3DH as sessions started before PQXDH: the same checks and steps but the KEM.
        func classicalInitiate() throws -> CiphertextEnvelope {
            guard verifier.isValid(classicalBundle.signedPrekey, identityKey: bob.publicKey),
                verifier.isValidBinding(binding, identityKey: bob.publicKey, username: bobName)
            else { throw BenchError.setup("bundle does not verify") }
            let ephemeral = try crypto.generateX25519KeyPair(using: random)
            let agreement = try x3dh.initiate(
                localUsername: aliceName, localIdentity: alice, ephemeral: ephemeral, peer: bobName, peerIdentity: bob.publicKey,
                signedPrekey: classicalBundle.signedPrekey, oneTimePrekey: classicalBundle.oneTimePrekey)
            var ratchet = try DoubleRatchet.initiator(
                sharedSecret: agreement.sharedSecret, associatedData: agreement.associatedData, remoteRatchetKey: spkPair.publicKey,
                crypto: crypto, random: random)
            let (header, body) = try ratchet.encrypt(content.encoded, crypto: crypto)
            return CiphertextEnvelope(
                prelude: PrekeyPrelude(
                    identityKey: alice.publicKey, ephemeralKey: ephemeral.publicKey, signedPrekeyID: 1, oneTimePrekeyID: 2),
                header: header, ciphertext: body)
        }
        let pqFirst = try pqInitiate()
        let classicalFirst = try classicalInitiate()
        func pqRespond() throws {
            _ = try cipher.decrypt(pqFirst, from: aliceName, record: nil, localUsername: bobName, localIdentity: bob, prekeys: bobKeys)
        }
        func classicalRespond() throws {
            let prelude = classicalFirst.prelude!
            let agreement = try x3dh.respond(
                localUsername: bobName, localIdentity: bob, signedPrekey: spkPair, oneTimePrekey: otpk.keyPair, remoteUsername: aliceName,
                remoteIdentity: prelude.identityKey, remoteEphemeral: prelude.ephemeralKey)
            var ratchet = DoubleRatchet.responder(sharedSecret: agreement.sharedSecret, associatedData: agreement.associatedData, ownRatchetKey: spkPair)
            _ = try ratchet.decrypt(header: classicalFirst.header, ciphertext: classicalFirst.ciphertext, crypto: crypto, random: random)
        }

        let cases: [(String, () throws -> Void, () throws -> Void)] = [
            ("initiator (verify, agree, first message)", { _ = try pqInitiate() }, { _ = try classicalInitiate() }),
            ("responder (agree, read first message)", pqRespond, classicalRespond),
        ]
        var rows: [Row] = []
        emit(Report.pad("operation", 44) + Report.padLeft("PQXDH/s", 12) + Report.padLeft("X3DH/s", 12) + Report.padLeft("time x", 8))
        for (name, pq, classical) in cases {
            let pqBody = { do { try pq() } catch { fatalError("\(error)") } }
            let classicalBody = { do { try classical() } catch { fatalError("\(error)") } }
            let pqIterations = Measurement.calibrate(target: roundTarget, pqBody)
            let classicalIterations = Measurement.calibrate(target: roundTarget, classicalBody)
            var pqTimes: [Double] = []
            var classicalTimes: [Double] = []
            for _ in 0..<rounds {
                pqTimes.append(Measurement.nanosecondsPerCall(iterations: pqIterations, pqBody))
                classicalTimes.append(Measurement.nanosecondsPerCall(iterations: classicalIterations, classicalBody))
            }
            let row = Row(
                name: name, pqxdhSamples: pqTimes, pqxdhNanoseconds: Measurement.median(pqTimes), x3dhNanoseconds: Measurement.median(classicalTimes))
            rows.append(row)
            emit(Report.pad(name, 44) + Report.padLeft(Report.fixed(1e9 / row.pqxdhNanoseconds, 0), 12)
                + Report.padLeft(Report.fixed(1e9 / row.x3dhNanoseconds, 0), 12) + Report.padLeft(Report.fixed(row.ratio, 2), 8))
        }
        let pqBundleBytes = WireCodec.encode(.response(Response(requestID: 1, body: .bundle(pqBundle)))).count
        let classicalBundleBytes = WireCodec.encode(.response(Response(requestID: 1, body: .bundle(classicalBundle)))).count
        emit("bundle response: \(pqBundleBytes) bytes with PQXDH, \(classicalBundleBytes) classical")
        emit("first message (envelope, a 9-byte text): \(pqFirst.encoded.count) bytes with PQXDH, \(classicalFirst.encoded.count) classical")
        return Result(
            rows: rows, pqBundleBytes: pqBundleBytes, classicalBundleBytes: classicalBundleBytes,
            pqFirstMessageBytes: pqFirst.encoded.count, classicalFirstMessageBytes: classicalFirst.encoded.count)
    }
}
