import ClientCore

/// Builds PNG streams byte by byte, independently of libpng, so fixtures can carry any colour type,
/// bit depth or chunk (metadata the validator must strip), and parses chunk lists back out.
enum PNGFixture {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// CRC-32 (ISO 3309, polynomial 0xEDB88320), as PNG chunks use, from a 256-entry table.
    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// length (4, big-endian) + type (4) + data + CRC-32 of type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
    }

    /// A zlib stream of stored (uncompressed) deflate blocks: valid, and trivially correct.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65535, data.count - offset)
            let final: UInt8 = offset + count == data.count ? 1 : 0
            out += [final, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            out += data[offset..<(offset + count)]
            offset += count
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return out + bigEndian(b << 16 | a)
    }

    /// A whole PNG: IHDR, `extra` chunks (in order), IDAT of `rows` (each row gets filter byte 0),
    /// IEND.
    static func png(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, rows: [[UInt8]], extra: [[UInt8]] = []) -> [UInt8] {
        let ihdr = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [bitDepth, colorType, 0, 0, 0]
        let raw: [UInt8] = rows.flatMap { row -> [UInt8] in [0] + row }
        let extraBytes: [UInt8] = extra.flatMap { $0 }
        return signature + chunk("IHDR", ihdr) + extraBytes + chunk("IDAT", zlibStored(raw)) + chunk("IEND", [])
    }

    /// 8-bit RGBA pixels (colour type 6).
    static func rgba(width: Int, height: Int, pixels: [UInt8], extra: [[UInt8]] = []) -> [UInt8] {
        let rows = (0..<height).map { y in Array(pixels[(y * width * 4)..<((y + 1) * width * 4)]) }
        return png(width: width, height: height, bitDepth: 8, colorType: 6, rows: rows, extra: extra)
    }

    /// `chunks` inserted right after IHDR (which is always the first chunk, 25 bytes long).
    static func inserting(_ chunks: [[UInt8]], afterIHDRof png: [UInt8]) -> [UInt8] {
        let ihdrEnd = 8 + 25
        return Array(png[..<ihdrEnd]) + chunks.flatMap { $0 } + Array(png[ihdrEnd...])
    }

    /// The chunk types of a well-formed PNG, in order.
    static func chunkTypes(_ png: [UInt8]) -> [String] {
        var types: [String] = []
        var offset = 8
        while offset + 8 <= png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            types.append(String(decoding: png[(offset + 4)..<(offset + 8)], as: UTF8.self))
            offset += 12 + length
        }
        return types
    }

    /// True if `needle` occurs anywhere in `haystack`.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
