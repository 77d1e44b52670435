import Primitives
import Testing

/// RFC 4231 (HMAC-SHA256), RFC 5869 (HKDF-SHA256) and hash known answers.
@Suite("HMAC, HKDF and hashes")
struct KDFTests {
    @Test("RFC 4231 HMAC-SHA256 test cases 1-4, 6, 7", arguments: [
        ("1", [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ("2", Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ("3", [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ("4", Array(1...25), [UInt8](repeating: 0xcd, count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ("6", [UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ("7", [UInt8](repeating: 0xaa, count: 131),
         Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ] as [(String, [UInt8], [UInt8], String)])
    func hmac(testCase: String, key: [UInt8], data: [UInt8], expected: String) {
        #expect(crypto.hmacSHA256(key: SecretBytes(copying: key), message: data).unsafeExportBytes() == hex(expected), "test case \(testCase)")
    }

    @Test("RFC 5869 appendix A test cases 1-3", arguments: [
        ("A.1", [UInt8](repeating: 0x0b, count: 22), Array(0x00...0x0c), Array(0xf0...0xf9), 42,
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        ("A.2", Array(0x00...0x4f), Array(0x60...0xaf), Array(0xb0...0xff), 82,
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
        ("A.3", [UInt8](repeating: 0x0b, count: 22), [], [], 42,
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
    ] as [(String, [UInt8], [UInt8], [UInt8], Int, String)])
    func hkdf(testCase: String, ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int, expected: String) throws {
        let okm = try crypto.hkdfSHA256(salt: salt, inputKeyMaterial: SecretBytes(copying: ikm), info: info, length: length)
        #expect(okm.unsafeExportBytes() == hex(expected), "test case \(testCase)")
    }

    /// Issue 10, finding 10: the ratchet's root key is the HKDF salt, so it is passed as a secret;
    /// the secret-salt form must compute exactly the same function.
    @Test("HKDF with a secret salt matches RFC 5869 appendix A", arguments: [
        ([UInt8](repeating: 0x0b, count: 22), Array(0x00...0x0c), Array(0xf0...0xf9), 42,
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        ([UInt8](repeating: 0x0b, count: 22), [], [], 42,
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
    ] as [([UInt8], [UInt8], [UInt8], Int, String)])
    func hkdfWithSecretSalt(ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int, expected: String) throws {
        let okm = try crypto.hkdfSHA256(secretSalt: SecretBytes(copying: salt), inputKeyMaterial: SecretBytes(copying: ikm), info: info, length: length)
        #expect(okm.unsafeExportBytes() == hex(expected))
    }

    @Test("RFC 5869 A.1 pseudorandom key equals HMAC(salt, IKM)")
    func hkdfExtract() {
        let prk = crypto.hmacSHA256(key: SecretBytes(copying: Array(0x00...0x0c) as [UInt8]), message: [UInt8](repeating: 0x0b, count: 22))
        #expect(prk.unsafeExportBytes() == hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"))
    }

    @Test("HKDF output lengths: 1 and 255*32 work, 0 and 255*32+1 are refused")
    func hkdfLengths() throws {
        let ikm = SecretBytes(copying: [1, 2, 3])
        #expect(try crypto.hkdfSHA256(salt: [], inputKeyMaterial: ikm, info: [], length: 1).count == 1)
        let longest = try crypto.hkdfSHA256(salt: [], inputKeyMaterial: ikm, info: [], length: 255 * 32)
        #expect(longest.count == 8160)
        // The first block of a long output equals a 32-byte output: expansion is a prefix chain.
        let short = try crypto.hkdfSHA256(salt: [], inputKeyMaterial: ikm, info: [], length: 32)
        #expect(longest.slice(0..<32) == short)
        for bad in [0, 255 * 32 + 1] {
            #expect(throws: CryptoError.invalidOutputLength(requested: bad, allowed: 1...8160)) {
                try crypto.hkdfSHA256(salt: [], inputKeyMaterial: ikm, info: [], length: bad)
            }
        }
    }

    @Test("SHA-256, SHA-512 and BLAKE2b of \"abc\" (FIPS 180-2, RFC 7693 appendix A)")
    func hashes() throws {
        let abc = Array("abc".utf8)
        #expect(crypto.sha256(abc) == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(crypto.sha512(abc) == hex("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"))
        #expect(try crypto.blake2b(abc, outputLength: 64) == hex("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"))
        #expect(throws: CryptoError.invalidOutputLength(requested: 65, allowed: 16...64)) {
            try crypto.blake2b(abc, outputLength: 65)
        }
    }
}
