import Primitives
import Testing

@Suite("Byte coding and hex")
struct ByteCodingTests {
    @Test("writer and reader round trip every field type")
    func roundTrip() throws {
        var writer = ByteWriter()
        writer.write(UInt8(7))
        writer.write(UInt16(0x0102))
        writer.write(UInt32(0xdeadbeef))
        writer.write(UInt64.max - 1)
        writer.write(Int64(-5))
        writer.write(true)
        writer.writeRaw([9, 9])
        writer.writeVariable([1, 2, 3])
        writer.writeString("héllo")
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readUInt8("a") == 7)
        #expect(try reader.readUInt16("b") == 0x0102)
        #expect(try reader.readUInt32("c") == 0xdeadbeef)
        #expect(try reader.readUInt64("d") == UInt64.max - 1)
        #expect(try reader.readInt64("e") == -5)
        #expect(try reader.readBool("f"))
        #expect(try reader.readRaw(2, "g") == [9, 9])
        #expect(try reader.readVariable("h", limit: 3) == [1, 2, 3])
        #expect(try reader.readString("i", limit: 10) == "héllo")
        try reader.expectEnd()
    }

    /// Issue 10, finding 10: serialised sessions are read straight from secret storage. A reader
    /// over secret bytes must decode exactly what a reader over the same array decodes, fail at
    /// the same place, and hand out secrets with the same contents.
    @Test("a reader over secret bytes decodes identically to one over an array")
    func secretReaderDecodesIdentically() throws {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(UInt16(0xbeef))
        writer.write(UInt32(7))
        writer.write(UInt64(0x0102_0304_0506_0708))
        writer.write(Int64(-9))
        writer.write(false)
        writer.writeRaw([0xaa, 0xbb, 0xcc])
        writer.writeVariable([4, 5])
        writer.writeString("ключ")
        writer.writeRaw((0..<32).map { UInt8($0) })
        let bytes = writer.bytes
        func decode(_ reader: inout ByteReader) throws -> [String] {
            [
                "\(try reader.readUInt8("a"))", "\(try reader.readUInt16("b"))", "\(try reader.readUInt32("c"))",
                "\(try reader.readUInt64("d"))", "\(try reader.readInt64("e"))", "\(try reader.readBool("f"))",
                "\(try reader.readRaw(3, "g"))", "\(try reader.readVariable("h", limit: 2))", try reader.readString("i", limit: 20),
                "\(try reader.readSecret(32, "k").unsafeExportBytes())", "\(reader.remaining)", "\(reader.isAtEnd)",
            ]
        }
        var plain = ByteReader(bytes)
        var secret = ByteReader(secret: SecretBytes(copying: bytes))
        #expect(try decode(&secret) == decode(&plain))
        try secret.expectEnd()

        // Truncated: both fail with the same error at the same field.
        for cut in [0, 1, 5, bytes.count - 1] {
            var shortPlain = ByteReader(Array(bytes.prefix(cut)))
            var shortSecret = ByteReader(secret: SecretBytes(copying: bytes.prefix(cut)))
            let plainError = #expect(throws: DecodingError.self) { try decode(&shortPlain) }
            let secretError = #expect(throws: DecodingError.self) { try decode(&shortSecret) }
            #expect(plainError == secretError)
        }
    }

    @Test("a writer that outgrows its capacity many times writes the same bytes")
    func writerGrowth() {
        var small = ByteWriter(capacity: 1)
        var large = ByteWriter(capacity: 4096)
        for index in 0..<300 {
            for writer in [0, 1] {
                func fill(_ w: inout ByteWriter) {
                    w.write(UInt8(truncatingIfNeeded: index))
                    w.write(UInt16(truncatingIfNeeded: index))
                    w.write(UInt32(truncatingIfNeeded: index))
                    w.write(UInt64(index))
                    w.writeRaw((0..<index % 7).map { UInt8($0) })
                    w.writeRaw(stride(from: UInt8(0), to: UInt8(index % 5), by: 1))
                    w.writeVariable([UInt8](repeating: 0xee, count: index % 11))
                    w.writeSecret(SecretBytes(copying: [UInt8](repeating: 0x5a, count: index % 13)))
                }
                if writer == 0 { fill(&small) } else { fill(&large) }
            }
        }
        #expect(small.bytes == large.bytes)
        let secret = small.finishSecret()
        #expect(secret.unsafeExportBytes() == large.bytes)
        #expect(small.bytes.isEmpty)
    }

    @Test("SecretBytes(copying:) copies contiguous and non-contiguous input alike")
    func secretCopying() {
        let source: [UInt8] = Array(0...200)
        #expect(SecretBytes(copying: source).unsafeExportBytes() == source)
        #expect(SecretBytes(copying: source[10..<20]).unsafeExportBytes() == Array(10...19))
        #expect(SecretBytes(copying: source.lazy.map { $0 ^ 0xff }).unsafeExportBytes() == source.map { $0 ^ 0xff })
        #expect(SecretBytes(copying: stride(from: UInt8(0), to: 10, by: 2)).unsafeExportBytes() == [0, 2, 4, 6, 8])
        #expect(source.withUnsafeBytes { SecretBytes(copying: $0) }.unsafeExportBytes() == source)
        #expect(SecretBytes(copying: [UInt8]()).count == 0)
        var exported = SecretBytes(copying: source).unsafeExportBytes()
        SecretBytes.wipe(&exported)
        #expect(exported.isEmpty)
    }

    @Test("hostile lengths, truncation, bad booleans and invalid UTF-8 are typed errors")
    func hostileInput() {
        var tooLong = ByteReader([0, 0, 0, 9, 1, 2])
        #expect(throws: DecodingError.tooLong(field: "x", length: 9, limit: 4)) { try tooLong.readVariable("x", limit: 4) }
        var truncated = ByteReader([0, 0, 0, 3, 1])
        #expect(throws: DecodingError.truncated(field: "x", needed: 2)) { try truncated.readVariable("x", limit: 10) }
        var huge = ByteReader([0xff, 0xff, 0xff, 0xff])
        #expect(throws: DecodingError.tooLong(field: "x", length: 0xffff_ffff, limit: 100)) { try huge.readVariable("x", limit: 100) }
        var bool = ByteReader([2])
        #expect(throws: DecodingError.invalidValue(field: "b", reason: "boolean byte 2")) { try bool.readBool("b") }
        var utf8 = ByteReader([0, 0, 0, 2, 0xc3, 0x28])
        #expect(throws: DecodingError.invalidValue(field: "s", reason: "invalid UTF-8")) { try utf8.readString("s", limit: 10) }
        #expect(throws: DecodingError.trailingBytes(count: 1)) { try ByteReader([1]).expectEnd() }
    }

    @Test("random byte strings never trap the reader")
    func randomInputs() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let bytes = (0..<Int(generator.next() % 40)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            var reader = ByteReader(bytes)
            _ = try? reader.readUInt16("a")
            _ = try? reader.readVariable("b", limit: 16)
            _ = try? reader.readString("c", limit: 16)
            _ = try? reader.readBool("d")
        }
    }

    @Test("hex encodes lowercase and rejects odd length or non-hex")
    func hex() {
        #expect(Hex.encode([0x00, 0xab, 0xff]) == "00abff")
        #expect(Hex.decode("00ABff") == [0x00, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test("timestamps add durations and measure differences")
    func timestamps() {
        let start = Timestamp(secondsSinceEpoch: 100)
        #expect(start.adding(.milliseconds(1500)).millisecondsSinceEpoch == 101_500)
        #expect(start.adding(.seconds(2)).since(start) == .seconds(2))
        #expect(start < start.adding(.milliseconds(1)))
    }
}

/// A tiny deterministic generator for fuzz-style tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
