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

/// A provider with only the array-form AEAD, so the port's default key-and-nonce seal and open
/// (built from the array form) are what runs.
private struct ArrayFormProvider: CryptoProvider {
    let base = crypto
    func x25519PublicKey(for secretKey: X25519SecretKey) throws(CryptoError) -> X25519PublicKey { try base.x25519PublicKey(for: secretKey) }
    func x25519(_ secretKey: X25519SecretKey, _ publicKey: X25519PublicKey) throws(CryptoError) -> SecretBytes { try base.x25519(secretKey, publicKey) }
    func ed25519KeyPair(seed: SecretBytes) throws(CryptoError) -> Ed25519KeyPair { try base.ed25519KeyPair(seed: seed) }
    func sign(_ message: [UInt8], with secretKey: Ed25519SecretKey) throws(CryptoError) -> Ed25519Signature { try base.sign(message, with: secretKey) }
    func verify(_ signature: Ed25519Signature, of message: [UInt8], by publicKey: Ed25519PublicKey) -> Bool { base.verify(signature, of: message, by: publicKey) }
    func x25519PublicKey(converting publicKey: Ed25519PublicKey) throws(CryptoError) -> X25519PublicKey { try base.x25519PublicKey(converting: publicKey) }
    func x25519SecretKey(converting secretKey: Ed25519SecretKey) throws(CryptoError) -> X25519SecretKey { try base.x25519SecretKey(converting: secretKey) }
    func xChaCha20Poly1305Seal(_ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey) throws(CryptoError) -> [UInt8] {
        try base.xChaCha20Poly1305Seal(plaintext, associatedData: associatedData, nonce: nonce, key: key)
    }
    func xChaCha20Poly1305Open(_ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey) throws(CryptoError) -> [UInt8] {
        try base.xChaCha20Poly1305Open(ciphertext, associatedData: associatedData, nonce: nonce, key: key)
    }
    func chaCha20Poly1305Seal(_ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey) throws(CryptoError) -> [UInt8] {
        try base.chaCha20Poly1305Seal(plaintext, associatedData: associatedData, nonce: nonce, key: key)
    }
    func chaCha20Poly1305Open(_ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey) throws(CryptoError) -> [UInt8] {
        try base.chaCha20Poly1305Open(ciphertext, associatedData: associatedData, nonce: nonce, key: key)
    }
    func hmacSHA256(key: SecretBytes, message: [UInt8]) -> SecretBytes { base.hmacSHA256(key: key, message: message) }
    func hkdfSHA256(salt: [UInt8], inputKeyMaterial: SecretBytes, info: [UInt8], length: Int) throws(CryptoError) -> SecretBytes {
        try base.hkdfSHA256(salt: salt, inputKeyMaterial: inputKeyMaterial, info: info, length: length)
    }
    func hkdfSHA256(secretSalt: SecretBytes, inputKeyMaterial: SecretBytes, info: [UInt8], length: Int) throws(CryptoError) -> SecretBytes {
        try base.hkdfSHA256(secretSalt: secretSalt, inputKeyMaterial: inputKeyMaterial, info: info, length: length)
    }
    func sha256(_ data: [UInt8]) -> [UInt8] { base.sha256(data) }
    func sha512(_ data: [UInt8]) -> [UInt8] { base.sha512(data) }
    func blake2b(_ data: [UInt8], outputLength: Int) throws(CryptoError) -> [UInt8] { try base.blake2b(data, outputLength: outputLength) }
    func argon2idHashString(password: SecretBytes, cost: Argon2Cost) throws(CryptoError) -> String { try base.argon2idHashString(password: password, cost: cost) }
    func argon2idVerify(hashString: String, password: SecretBytes) -> Bool { base.argon2idVerify(hashString: hashString, password: password) }
    func argon2idNeedsRehash(hashString: String, cost: Argon2Cost) -> Bool { base.argon2idNeedsRehash(hashString: hashString, cost: cost) }
    func argon2idDeriveKey(password: SecretBytes, salt: [UInt8], length: Int, cost: Argon2Cost) throws(CryptoError) -> SecretBytes {
        try base.argon2idDeriveKey(password: password, salt: salt, length: length, cost: cost)
    }
}

@Suite("AEAD key-and-nonce default")
struct AEADKeyAndNonceDefaultTests {
    @Test("the port's default key-and-nonce seal and open give the adapter's bytes and refuse what it refuses")
    func defaultMatchesAdapter() throws {
        let provider: any CryptoProvider = ArrayFormProvider()
        let keyAndNonce = SecretBytes(copying: (0..<56).map { UInt8($0) })
        let plaintext = Array("the ratchet's default path".utf8)
        let associatedData: [UInt8] = [1, 2, 3]
        let sealed = try associatedData.withUnsafeBytes { try provider.xChaCha20Poly1305Seal(plaintext, associatedData: $0, keyAndNonce: keyAndNonce) }
        let adapter = try associatedData.withUnsafeBytes { try crypto.xChaCha20Poly1305Seal(plaintext, associatedData: $0, keyAndNonce: keyAndNonce) }
        #expect(sealed == adapter)
        #expect(try associatedData.withUnsafeBytes { try provider.xChaCha20Poly1305Open(sealed, associatedData: $0, keyAndNonce: keyAndNonce) } == plaintext)
        var flipped = sealed
        flipped[0] ^= 1
        #expect(throws: CryptoError.authenticationFailed) {
            try associatedData.withUnsafeBytes { try provider.xChaCha20Poly1305Open(flipped, associatedData: $0, keyAndNonce: keyAndNonce) }
        }
        #expect(throws: CryptoError.invalidLength(what: "AEAD key and nonce", expected: 56, got: 32)) {
            try associatedData.withUnsafeBytes { try provider.xChaCha20Poly1305Seal(plaintext, associatedData: $0, keyAndNonce: SecretBytes(zeroes: 32)) }
        }
    }
}
