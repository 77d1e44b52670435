import Primitives
import Testing

/// RFC 8032 section 7.1 Ed25519 known answers, and the Ed25519 -> X25519 conversions.
@Suite("Ed25519 (RFC 8032)")
struct Ed25519Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name, seed, publicKey, message, signature: String
        var testDescription: String { name }
    }

    static let vectors = [
        Vector(name: "TEST 1",
               seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
               publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
               message: "",
               signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        Vector(name: "TEST 2",
               seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
               publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
               message: "72",
               signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        Vector(name: "TEST 3",
               seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
               publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
               message: "af82",
               signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]

    @Test("keys and signatures from seeds", arguments: vectors)
    func signFromSeed(vector: Vector) throws {
        let pair = try crypto.ed25519KeyPair(seed: secret(vector.seed))
        #expect(pair.publicKey.bytes == hex(vector.publicKey))
        let signature = try crypto.sign(hex(vector.message), with: pair.secretKey)
        #expect(signature.bytes == hex(vector.signature))
        #expect(crypto.verify(signature, of: hex(vector.message), by: pair.publicKey))
    }

    @Test("a signature over other bytes, or by another key, does not verify")
    func verifyRejects() throws {
        let one = try crypto.ed25519KeyPair(seed: secret(Self.vectors[0].seed))
        let two = try crypto.ed25519KeyPair(seed: secret(Self.vectors[1].seed))
        let signature = try crypto.sign([1, 2, 3], with: one.secretKey)
        #expect(!crypto.verify(signature, of: [1, 2, 4], by: one.publicKey))
        #expect(!crypto.verify(signature, of: [1, 2, 3], by: two.publicKey))
        var flipped = signature.bytes
        flipped[10] ^= 0x01
        #expect(!crypto.verify(try Ed25519Signature(bytes: flipped), of: [1, 2, 3], by: one.publicKey))
    }

    @Test("converted identity keys agree: DH(sk_a, pk_b) == DH(sk_b, pk_a)")
    func conversionsAgree() throws {
        let alice = try crypto.ed25519KeyPair(seed: secret(Self.vectors[0].seed))
        let bob = try crypto.ed25519KeyPair(seed: secret(Self.vectors[2].seed))
        let aliceSecret = try crypto.x25519SecretKey(converting: alice.secretKey)
        let bobSecret = try crypto.x25519SecretKey(converting: bob.secretKey)
        // The converted public key equals the public key of the converted secret.
        #expect(try crypto.x25519PublicKey(converting: alice.publicKey) == crypto.x25519PublicKey(for: aliceSecret))
        let ab = try crypto.x25519(aliceSecret, crypto.x25519PublicKey(converting: bob.publicKey))
        let ba = try crypto.x25519(bobSecret, crypto.x25519PublicKey(converting: alice.publicKey))
        #expect(ab == ba)
    }

    @Test("a point that is not on the curve does not convert")
    func conversionRejectsInvalidPoint() throws {
        // y = 2 is not the y-coordinate of any point on edwards25519.
        let notAPoint = try Ed25519PublicKey(bytes: [2] + [UInt8](repeating: 0, count: 31))
        #expect(throws: CryptoError.invalidKey(what: "Ed25519 public key")) {
            try crypto.x25519PublicKey(converting: notAPoint)
        }
    }
}
