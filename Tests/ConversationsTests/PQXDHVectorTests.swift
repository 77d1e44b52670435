import Conversations
import Envelope
import Foundation
import MLKEMCrypto
import Prekeys
import Primitives
import Testing

/// PQXDH against the independent Python implementation (kyber-py's FIPS 203 ML-KEM-1024 and
/// PyNaCl; `Tools/vectors`), byte for byte, and swift-crypto's ML-KEM key generation against its
/// own published known answers.
@Suite("PQXDH vectors")
struct PQXDHVectorTests {
    struct PQXDHCase: Decodable, Sendable {
        let aliceIdentitySeed, bobIdentitySeed, aliceUsername, bobUsername: String
        let bobSpkId: UInt32
        let bobSpkSecret: String
        let bobOtpkId: UInt32?
        let bobOtpkSecret: String?
        let aliceEphemeralSecret: String
        let bobKemId: UInt32
        let bobKemLastResort: Bool
        let bobKemSeed, kemEncapsulationRandomness, aliceRatchetSecret, firstPlaintext: String
        let bobKemPublic, kemSignature, kemCiphertext, kemSharedSecret, sharedSecret, associatedData, firstMessage: String
    }

    let env = TestEnvironment()

    @Test("key pairs from seeds, KEM prekey signatures, decapsulation, SK, AD and the first message match, from both sides")
    func pqxdh() throws {
        let crypto = env.crypto
        let kem = SwiftCryptoMLKEM()
        let cases = try loadVectors("pqxdh.json", as: PQXDHCase.self)
        #expect(cases.count >= 4)
        // With and without the one-time X25519 prekey, each with a one-time and a last-resort ML-KEM prekey.
        #expect(Set(cases.map { "\($0.bobOtpkId == nil) \($0.bobKemLastResort)" }).count == 4)
        for vector in cases {
            let alice = try crypto.ed25519KeyPair(seed: SecretBytes(copying: hex(vector.aliceIdentitySeed)))
            let bob = try crypto.ed25519KeyPair(seed: SecretBytes(copying: hex(vector.bobIdentitySeed)))
            let spk = try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: hex(vector.bobSpkSecret))))
            let otpk = try vector.bobOtpkSecret.map { try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: hex($0)))) }
            let ephemeral = try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: hex(vector.aliceEphemeralSecret))))
            let (aliceName, bobName) = (try Username(vector.aliceUsername), try Username(vector.bobUsername))

            // swift-crypto's key generation from the seed gives kyber-py's encapsulation key.
            let kemPair = try kem.mlkem1024KeyPair(seed: SecretBytes(copying: hex(vector.bobKemSeed)))
            #expect(kemPair.publicKey.bytes == hex(vector.bobKemPublic))
            let kemSignature = try crypto.sign(KEMPrekey.signedMessage(id: vector.bobKemId, publicKey: kemPair.publicKey), with: bob.secretKey)
            #expect(kemSignature.bytes == hex(vector.kemSignature))
            // kyber-py's ciphertext decapsulates to its shared secret with swift-crypto.
            let ciphertext = try MLKEMCiphertext(bytes: hex(vector.kemCiphertext))
            #expect(try kem.mlkem1024Decapsulate(ciphertext, with: kemPair.secretKey).unsafeExportBytes() == hex(vector.kemSharedSecret))

            let spkSignature = try crypto.sign(SignedPrekey.signedMessage(id: vector.bobSpkId, publicKey: spk.publicKey), with: bob.secretKey)
            let kemPrekey = KEMPrekey(id: vector.bobKemId, publicKey: kemPair.publicKey, signature: kemSignature)
            let bundle = try PrekeyBundleVerifier(crypto: crypto).verify(UnverifiedPrekeyBundle(
                identityKey: bob.publicKey, signedPrekey: SignedPrekey(id: vector.bobSpkId, publicKey: spk.publicKey, signature: spkSignature),
                oneTimePrekey: otpk.map { OneTimePrekey(id: vector.bobOtpkId ?? 0, publicKey: $0.publicKey) },
                kemPrekey: BundledKEMPrekey(kemPrekey, isLastResort: vector.bobKemLastResort)))
            let pqxdh = PQXDH(crypto: crypto, kem: kem)
            let initiation = try pqxdh.initiate(
                localUsername: aliceName, localIdentity: alice, ephemeral: ephemeral, peer: bobName, bundle: bundle,
                encapsulation: (ciphertext, SecretBytes(copying: hex(vector.kemSharedSecret))))
            let responded = try pqxdh.respond(
                localUsername: bobName, localIdentity: bob, signedPrekey: spk, oneTimePrekey: otpk, kemPrekey: kemPair.secretKey,
                kemCiphertext: ciphertext, remoteUsername: aliceName, remoteIdentity: alice.publicKey, remoteEphemeral: ephemeral.publicKey)
            #expect(initiation.agreement.sharedSecret.unsafeExportBytes() == hex(vector.sharedSecret))
            #expect(responded.sharedSecret.unsafeExportBytes() == hex(vector.sharedSecret))
            #expect(initiation.agreement.associatedData == hex(vector.associatedData))
            #expect(responded.associatedData == hex(vector.associatedData))

            // The first message, as Alice's session encodes it, and as Bob reads it.
            var ratchet = try DoubleRatchet.initiator(
                sharedSecret: initiation.agreement.sharedSecret, associatedData: initiation.agreement.associatedData,
                remoteRatchetKey: spk.publicKey, crypto: crypto, random: ScriptedRandomSource([hex(vector.aliceRatchetSecret)]))
            let (header, body) = try ratchet.encrypt(hex(vector.firstPlaintext), crypto: crypto)
            let prelude = PrekeyPrelude(
                identityKey: alice.publicKey, ephemeralKey: ephemeral.publicKey, signedPrekeyID: vector.bobSpkId, oneTimePrekeyID: vector.bobOtpkId,
                kem: initiation.kemPrelude)
            let envelope = CiphertextEnvelope(prelude: prelude, header: header, ciphertext: body)
            #expect(envelope.encoded == hex(vector.firstMessage))
            let decoded = try CiphertextEnvelope(decoding: hex(vector.firstMessage))
            #expect(decoded == envelope)
            var bobRatchet = DoubleRatchet.responder(sharedSecret: responded.sharedSecret, associatedData: responded.associatedData, ownRatchetKey: spk)
            #expect(try bobRatchet.decrypt(header: decoded.header, ciphertext: decoded.ciphertext, crypto: crypto, random: env.random) == hex(vector.firstPlaintext))
        }
    }

    struct KeyGenKnownAnswer: Decodable {
        let dz, pk: String
    }

    /// swift-crypto's published ML-KEM-1024 key-generation known answers (BoringSSL's), read from
    /// the package checkout SwiftPM made, never copied here.
    @Test("swift-crypto derives the published ML-KEM-1024 public key from each published seed")
    func swiftCryptoKeyGenerationKnownAnswers() throws {
        let relative = "checkouts/swift-crypto/Tests/CryptoTests/KEM/MLKEM1024_BSSLKAT.json"
        // The test bundle runs from <scratch>/<triple>/debug/; the checkouts are in <scratch>.
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates: [URL] = []
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(folder.appendingPathComponent(relative))
            folder = folder.deletingLastPathComponent()
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build").appendingPathComponent(relative))
        let file = try #require(candidates.first { FileManager.default.fileExists(atPath: $0.path) }, "no \(relative) near \(executable.path)")
        let answers = try JSONDecoder().decode([KeyGenKnownAnswer].self, from: Data(contentsOf: file))
        #expect(answers.count >= 100)
        let kem = SwiftCryptoMLKEM()
        for answer in answers {
            let pair = try kem.mlkem1024KeyPair(seed: SecretBytes(copying: hex(answer.dz)))
            #expect(pair.publicKey.bytes == hex(answer.pk))
        }
    }

    @Test("a tampered ciphertext decapsulates to another secret (implicit rejection), which changes SK")
    func tamperedCiphertextChangesTheSecret() throws {
        let kem = SwiftCryptoMLKEM()
        let pair = try kem.generateMLKEMKeyPair(using: env.random)
        let (ciphertext, shared) = try kem.mlkem1024Encapsulate(to: pair.publicKey)
        #expect(try kem.mlkem1024Decapsulate(ciphertext, with: pair.secretKey) == shared)
        var bytes = ciphertext.bytes
        bytes[17] ^= 0x01
        #expect(try kem.mlkem1024Decapsulate(MLKEMCiphertext(bytes: bytes), with: pair.secretKey) != shared)
    }
}
