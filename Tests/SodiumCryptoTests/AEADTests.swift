import Primitives
import Testing

/// XChaCha20-Poly1305-IETF (draft-irtf-cfrg-xchacha-03 appendix A.3.1) and ChaCha20-Poly1305-IETF
/// (RFC 8439 section 2.8.2).
@Suite("AEAD")
struct AEADTests {
    static let sunscreen = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
    static let associatedData = hex("50515253c0c1c2c3c4c5c6c7")
    static let key = Array(0x80...0x9f) as [UInt8]

    @Test("draft-irtf-cfrg-xchacha-03 A.3.1")
    func xChaChaVector() throws {
        let nonce = Array(0x40...0x57) as [UInt8]
        let sealed = try crypto.xChaCha20Poly1305Seal(Self.sunscreen, associatedData: Self.associatedData, nonce: nonce, key: SymmetricKey(SecretBytes(copying: Self.key)))
        let expected = hex("""
            bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39\
            ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9\
            21f9664c97637da9768812f615c68b13b52e
            """) + hex("c0875924c1c7987947deafd8780acf49")
        #expect(sealed == expected)
        let opened = try crypto.xChaCha20Poly1305Open(sealed, associatedData: Self.associatedData, nonce: nonce, key: SymmetricKey(SecretBytes(copying: Self.key)))
        #expect(opened == Self.sunscreen)
    }

    @Test("RFC 8439 2.8.2 ChaCha20-Poly1305 (the cipher inside Noise ChaChaPoly)")
    func chaChaVector() throws {
        let nonce = hex("070000004041424344454647")
        let sealed = try crypto.chaCha20Poly1305Seal(Self.sunscreen, associatedData: Self.associatedData, nonce: nonce, key: SymmetricKey(SecretBytes(copying: Self.key)))
        let expected = hex("""
            d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b\
            1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
            3ff4def08e4b7a9de576d26586cec64b6116
            """) + hex("1ae10b594f09e26a7e902ecbd0600691")
        #expect(sealed == expected)
    }

    @Test("tampered ciphertext, tampered associated data, wrong key and wrong nonce all fail to open")
    func tamperingFails() throws {
        let key = try SymmetricKey(SecretBytes(copying: Self.key))
        let nonce = [UInt8](repeating: 7, count: 24)
        let sealed = try crypto.xChaCha20Poly1305Seal([1, 2, 3, 4], associatedData: [9, 9], nonce: nonce, key: key)
        var flipped = sealed
        flipped[1] ^= 0x80
        var flippedTag = sealed
        flippedTag[sealed.count - 1] ^= 0x01
        let otherKey = try SymmetricKey(SecretBytes(copying: [UInt8](repeating: 1, count: 32)))
        let attempts: [(ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey)] = [
            (flipped, [9, 9], nonce, key),
            (flippedTag, [9, 9], nonce, key),
            (sealed, [9, 8], nonce, key),
            (sealed, [9, 9], nonce, otherKey),
            (sealed, [9, 9], [UInt8](repeating: 8, count: 24), key),
            (Array(sealed.prefix(10)), [9, 9], nonce, key),
        ]
        for attempt in attempts {
            #expect(throws: CryptoError.authenticationFailed) {
                try crypto.xChaCha20Poly1305Open(attempt.ciphertext, associatedData: attempt.associatedData, nonce: attempt.nonce, key: attempt.key)
            }
        }
        #expect(try crypto.xChaCha20Poly1305Open(sealed, associatedData: [9, 9], nonce: nonce, key: key) == [1, 2, 3, 4])
    }

    @Test("a nonce of the wrong length is a typed error")
    func nonceLength() throws {
        let key = try SymmetricKey(SecretBytes(copying: Self.key))
        #expect(throws: CryptoError.invalidLength(what: "AEAD nonce", expected: 24, got: 12)) {
            try crypto.xChaCha20Poly1305Seal([], associatedData: [], nonce: [UInt8](repeating: 0, count: 12), key: key)
        }
    }

    @Test("the key-and-nonce form (key || nonce read in place from one secret) gives the A.3.1 bytes and opens them")
    func xChaChaKeyAndNonceVector() throws {
        let nonce = Array(0x40...0x57) as [UInt8]
        let keyAndNonce = SecretBytes(copying: Self.key + nonce)
        let sealed = try Self.associatedData.withUnsafeBytes { ad in
            try crypto.xChaCha20Poly1305Seal(Self.sunscreen, associatedData: ad, keyAndNonce: keyAndNonce)
        }
        let arrayForm = try crypto.xChaCha20Poly1305Seal(Self.sunscreen, associatedData: Self.associatedData, nonce: nonce, key: SymmetricKey(SecretBytes(copying: Self.key)))
        #expect(sealed == arrayForm)
        #expect(Array(sealed.suffix(16)) == hex("c0875924c1c7987947deafd8780acf49"))
        let opened = try Self.associatedData.withUnsafeBytes { ad in
            try crypto.xChaCha20Poly1305Open(sealed, associatedData: ad, keyAndNonce: keyAndNonce)
        }
        #expect(opened == Self.sunscreen)
        // Empty plaintext and empty associated data work too.
        let empty = try crypto.xChaCha20Poly1305Seal([], associatedData: UnsafeRawBufferPointer(start: nil, count: 0), keyAndNonce: keyAndNonce)
        #expect(empty == (try crypto.xChaCha20Poly1305Seal([], associatedData: [], nonce: nonce, key: SymmetricKey(SecretBytes(copying: Self.key)))))
        #expect(try crypto.xChaCha20Poly1305Open(empty, associatedData: UnsafeRawBufferPointer(start: nil, count: 0), keyAndNonce: keyAndNonce) == [])
    }

    @Test("the key-and-nonce form refuses tampering, a wrong key or nonce, short input and a key-and-nonce of the wrong length")
    func xChaChaKeyAndNonceRefusals() throws {
        let keyAndNonce = SecretBytes(copying: Self.key + [UInt8](repeating: 7, count: 24))
        let associatedData: [UInt8] = [9, 9]
        let sealed = try associatedData.withUnsafeBytes { try crypto.xChaCha20Poly1305Seal([1, 2, 3, 4], associatedData: $0, keyAndNonce: keyAndNonce) }
        var flipped = sealed
        flipped[1] ^= 0x80
        var flippedTag = sealed
        flippedTag[sealed.count - 1] ^= 0x01
        let otherNonce = SecretBytes(copying: Self.key + [UInt8](repeating: 8, count: 24))
        let otherKey = SecretBytes(copying: [UInt8](repeating: 1, count: 32) + [UInt8](repeating: 7, count: 24))
        let attempts: [(ciphertext: [UInt8], associatedData: [UInt8], keyAndNonce: SecretBytes)] = [
            (flipped, associatedData, keyAndNonce),
            (flippedTag, associatedData, keyAndNonce),
            (sealed, [9, 8], keyAndNonce),
            (sealed, associatedData, otherNonce),
            (sealed, associatedData, otherKey),
            (Array(sealed.prefix(15)), associatedData, keyAndNonce),
            ([], associatedData, keyAndNonce),
        ]
        for attempt in attempts {
            #expect(throws: CryptoError.authenticationFailed) {
                try attempt.associatedData.withUnsafeBytes { try crypto.xChaCha20Poly1305Open(attempt.ciphertext, associatedData: $0, keyAndNonce: attempt.keyAndNonce) }
            }
        }
        for wrongLength in [32, 55, 57] {
            let wrong = SecretBytes(copying: [UInt8](repeating: 3, count: wrongLength))
            #expect(throws: CryptoError.invalidLength(what: "AEAD key and nonce", expected: 56, got: wrongLength)) {
                try associatedData.withUnsafeBytes { try crypto.xChaCha20Poly1305Seal([1], associatedData: $0, keyAndNonce: wrong) }
            }
            #expect(throws: CryptoError.invalidLength(what: "AEAD key and nonce", expected: 56, got: wrongLength)) {
                try associatedData.withUnsafeBytes { try crypto.xChaCha20Poly1305Open(sealed, associatedData: $0, keyAndNonce: wrong) }
            }
        }
        #expect(try associatedData.withUnsafeBytes { try crypto.xChaCha20Poly1305Open(sealed, associatedData: $0, keyAndNonce: keyAndNonce) } == [1, 2, 3, 4])
    }
}
