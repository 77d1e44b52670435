import Primitives
import SodiumCrypto
import Testing

/// Secrets never print their bytes, compare by content and keep distinct types.
@Suite("Secret handling")
struct SecretHandlingTests {
    static let marker: [UInt8] = [0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0x42, 0x99]

    @Test("description, debugDescription, interpolation and dump never show a secret's bytes")
    func secretsAreRedacted() throws {
        let bytes = Self.marker + Self.marker + Self.marker + Self.marker
        let secret = SecretBytes(copying: bytes)
        let key = try X25519SecretKey(secret)
        let pair = try crypto.ed25519KeyPair(seed: secret)
        var dumped = ""
        dump(secret, to: &dumped)
        dump(key, to: &dumped)
        dump(pair, to: &dumped)
        let renderings = [
            secret.description, secret.debugDescription, "\(secret)", String(reflecting: secret),
            "\(key)", String(reflecting: key), "\(pair.secretKey)", String(reflecting: pair), dumped,
            "\(try SymmetricKey(secret))",
        ]
        let forbidden = [Hex.encode(Self.marker), Hex.encode(Self.marker).uppercased(), "222, 173, 190, 239", "0xde"]
        for rendering in renderings {
            for pattern in forbidden {
                #expect(!rendering.contains(pattern), "leaked in: \(rendering)")
            }
        }
        #expect(secret.description == "SecretBytes(32 bytes, redacted)")
    }

    /// Only the answers are checked here. That the comparison takes the same time whatever the
    /// contents is a property of its construction (`ConstantTime.equal` and `sodium_memcmp` look
    /// at every byte); a timing assertion would be noise on a shared machine.
    @Test("secrets of 0, 1, 32 and 5000 bytes keep their bytes through copies, slices and concatenation")
    func storageKeepsBytes() {
        for length in [0, 1, 32, 5000] {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var secret: SecretBytes? = SecretBytes(copying: bytes)
            let copy = secret!
            secret = nil  // the copy shares the storage and keeps it alive
            #expect(copy.count == length)
            #expect(copy.unsafeExportBytes() == bytes)
            #expect(copy.withUnsafeBytes { $0.count } == length)
            #expect(SecretBytes(zeroes: length).unsafeExportBytes() == [UInt8](repeating: 0, count: length))
            let filled = SecretBytes(count: length) { $0.copyBytes(from: bytes) }
            #expect(filled == copy)
            #expect(copy.slice(0..<(length / 2)).unsafeExportBytes() == Array(bytes[0..<(length / 2)]))
            #expect(SecretBytes.concatenating([copy, copy]).unsafeExportBytes() == bytes + bytes)
        }
    }

    @Test("secret equality compares contents, and lengths matter")
    func equality() {
        #expect(SecretBytes(copying: [1, 2, 3]) == SecretBytes(copying: [1, 2, 3]))
        #expect(SecretBytes(copying: [1, 2, 3]) != SecretBytes(copying: [1, 2, 4]))
        #expect(SecretBytes(copying: [1, 2, 3]) != SecretBytes(copying: [1, 2, 3, 0]))
        #expect(crypto.constantTimeEqual([1, 2], [1, 2]))
        #expect(!crypto.constantTimeEqual([1, 2], [1, 3]))
        #expect(!crypto.constantTimeEqual([1, 2], [1, 2, 3]))
    }

    @Test("random sources produce distinct bytes of the requested length")
    func randomness() throws {
        let random = try SodiumRandomSource()
        let one = random.bytes(count: 32)
        let two = random.bytes(count: 32)
        #expect(one.count == 32 && one != two)
        let pairOne = try crypto.generateX25519KeyPair(using: random)
        let pairTwo = try crypto.generateX25519KeyPair(using: random)
        #expect(pairOne.publicKey != pairTwo.publicKey)
        let identity = try crypto.generateEd25519KeyPair(using: random)
        let signature = try crypto.sign([7], with: identity.secretKey)
        #expect(crypto.verify(signature, of: [7], by: identity.publicKey))
    }
}
