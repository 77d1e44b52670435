import Conversations
import Envelope
import Prekeys
import Primitives
import Testing

/// Replays the vectors made by the independent Python implementation (Tools/vectors) byte for byte.
@Suite("Independent vectors")
struct VectorTests {
    struct X3DHCase: Decodable, Sendable {
        let aliceIdentitySeed, bobIdentitySeed: String
        let aliceUsername, bobUsername: String
        let bobSpkId: UInt32
        let bobSpkSecret: String
        let bobOtpkId: UInt32?
        let bobOtpkSecret: String?
        let aliceEphemeralSecret, spkSignature, aliceIdentitySignature, bobIdentitySignature, sharedSecret, associatedData: String
    }

    struct RatchetCase: Decodable, Sendable {
        struct Message: Decodable, Sendable {
            let from, ratchetSecret, plaintext, header, ciphertext: String
        }
        let sharedSecret, associatedData, bobSpkSecret: String
        let messages: [Message]
    }

    struct SafetyCase: Decodable, Sendable {
        let aliceUsername, aliceIdentityPublic, bobUsername, bobIdentityPublic, safetyNumber: String
    }

    @Test("X3DH: signatures, identity bindings, shared secrets and associated data (with both usernames) match, from both sides")
    func x3dh() throws {
        let env = TestEnvironment()
        let crypto = env.crypto
        let cases = try loadVectors("x3dh.json", as: X3DHCase.self)
        #expect(cases.count >= 4)
        #expect(cases.filter { $0.bobOtpkId == nil }.count >= 2)
        for vector in cases {
            let alice = try crypto.ed25519KeyPair(seed: SecretBytes(copying: hex(vector.aliceIdentitySeed)))
            let bob = try crypto.ed25519KeyPair(seed: SecretBytes(copying: hex(vector.bobIdentitySeed)))
            let spk = try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: hex(vector.bobSpkSecret))))
            let otpk = try vector.bobOtpkSecret.map { try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: hex($0)))) }
            let ephemeral = try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: hex(vector.aliceEphemeralSecret))))

            let aliceName = try Username(vector.aliceUsername)
            let bobName = try Username(vector.bobUsername)

            let signature = try crypto.sign(SignedPrekey.signedMessage(id: vector.bobSpkId, publicKey: spk.publicKey), with: bob.secretKey)
            #expect(signature.bytes == hex(vector.spkSignature))
            let aliceBinding = try IdentityBinding.sign(username: aliceName, with: alice, crypto: crypto)
            let bobBinding = try IdentityBinding.sign(username: bobName, with: bob, crypto: crypto)
            #expect(aliceBinding.bytes == hex(vector.aliceIdentitySignature))
            #expect(bobBinding.bytes == hex(vector.bobIdentitySignature))
            #expect(IdentityBinding.isValid(bobBinding, identityKey: bob.publicKey, username: bobName, crypto: crypto))
            #expect(!IdentityBinding.isValid(bobBinding, identityKey: bob.publicKey, username: aliceName, crypto: crypto))

            let bundle = UnverifiedPrekeyBundle(
                identityKey: bob.publicKey,
                signedPrekey: SignedPrekey(id: vector.bobSpkId, publicKey: spk.publicKey, signature: signature),
                oneTimePrekey: otpk.map { OneTimePrekey(id: vector.bobOtpkId ?? 0, publicKey: $0.publicKey) })
            // Classical X3DH: the bundle has no ML-KEM prekey, so it must not verify for a new
            // session (no downgrade); its signed prekey's signature is checked on its own.
            #expect(throws: PrekeyError.missingKEMPrekey) { try PrekeyBundleVerifier(crypto: crypto).verify(bundle) }
            #expect(PrekeyBundleVerifier(crypto: crypto).isValid(bundle.signedPrekey, identityKey: bob.publicKey))
            let x3dh = X3DH(crypto: crypto)
            let initiated = try x3dh.initiate(
                localUsername: aliceName, localIdentity: alice, ephemeral: ephemeral, peer: bobName,
                peerIdentity: bundle.identityKey, signedPrekey: bundle.signedPrekey, oneTimePrekey: bundle.oneTimePrekey)
            let responded = try x3dh.respond(
                localUsername: bobName, localIdentity: bob, signedPrekey: spk, oneTimePrekey: otpk,
                remoteUsername: aliceName, remoteIdentity: alice.publicKey, remoteEphemeral: ephemeral.publicKey)
            #expect(initiated.sharedSecret.unsafeExportBytes() == hex(vector.sharedSecret))
            #expect(responded.sharedSecret.unsafeExportBytes() == hex(vector.sharedSecret))
            #expect(initiated.associatedData == hex(vector.associatedData))
            #expect(responded.associatedData == hex(vector.associatedData))
        }
    }

    @Test("Double Ratchet: every header and ciphertext matches, and the other side decrypts it")
    func ratchet() throws {
        let env = TestEnvironment()
        let crypto = env.crypto
        let cases = try loadVectors("ratchet.json", as: RatchetCase.self)
        #expect(cases.count >= 3)
        for vector in cases {
            #expect(vector.messages.count >= 10)
            // Each party's random source yields, in order, the distinct ratchet secrets it used.
            func script(for party: String) -> [[UInt8]] {
                var seen: [String] = []
                for message in vector.messages where message.from == party && seen.last != message.ratchetSecret {
                    seen.append(message.ratchetSecret)
                }
                return seen.map(hex)
            }
            let aliceRandom = ScriptedRandomSource(script(for: "alice"))
            let bobRandom = ScriptedRandomSource(script(for: "bob"))
            let spk = try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: hex(vector.bobSpkSecret))))
            let sharedSecret = SecretBytes(copying: hex(vector.sharedSecret))
            var alice = try DoubleRatchet.initiator(sharedSecret: sharedSecret, associatedData: hex(vector.associatedData), remoteRatchetKey: spk.publicKey, crypto: crypto, random: aliceRandom)
            var bob = DoubleRatchet.responder(sharedSecret: sharedSecret, associatedData: hex(vector.associatedData), ownRatchetKey: spk)
            for (index, message) in vector.messages.enumerated() {
                let senderIsAlice = message.from == "alice"
                let (header, ciphertext) = senderIsAlice
                    ? try alice.encrypt(hex(message.plaintext), crypto: crypto)
                    : try bob.encrypt(hex(message.plaintext), crypto: crypto)
                #expect(header.encoded == hex(message.header), "message \(index) header")
                #expect(ciphertext == hex(message.ciphertext), "message \(index) ciphertext")
                let received = senderIsAlice
                    ? try bob.decrypt(header: header, ciphertext: hex(message.ciphertext), crypto: crypto, random: bobRandom)
                    : try alice.decrypt(header: header, ciphertext: hex(message.ciphertext), crypto: crypto, random: aliceRandom)
                #expect(received == hex(message.plaintext), "message \(index) plaintext")
            }
        }
    }

    @Test("safety numbers match the independent implementation, from both sides")
    func safetyNumbers() throws {
        let env = TestEnvironment()
        let cases = try loadVectors("safety-number.json", as: SafetyCase.self)
        #expect(cases.count >= 4)
        for vector in cases {
            let alice = try Username(vector.aliceUsername)
            let bob = try Username(vector.bobUsername)
            let aliceKey = try Ed25519PublicKey(bytes: hex(vector.aliceIdentityPublic))
            let bobKey = try Ed25519PublicKey(bytes: hex(vector.bobIdentityPublic))
            let fromAlice = SafetyNumber(localUsername: alice, localIdentity: aliceKey, remoteUsername: bob, remoteIdentity: bobKey, crypto: env.crypto)
            let fromBob = SafetyNumber(localUsername: bob, localIdentity: bobKey, remoteUsername: alice, remoteIdentity: aliceKey, crypto: env.crypto)
            #expect(fromAlice.digits == vector.safetyNumber)
            #expect(fromBob == fromAlice)
            #expect(fromAlice.grouped.split(separator: " ").count == 12)
        }
    }
}
