import ClientCore
import Envelope
import PNGImages

/// PNG validation (`LibPNGImageValidator`), the trust boundary for every image a peer sends.
///
/// Property, for every input the validator accepts: the validated PNG has the declared sides
/// within the limits, decodes to exactly the pixels the input decoded to (re-encoding lost
/// nothing and added nothing), and validates again to the same bytes (validation is idempotent,
/// so a stored image is stable). Refusals are fine; a trap or a changed picture is not.
public enum PNGValidationProperty {
    public static let target = FuzzTarget(name: "png-validation", check: check, seeds: seeds)

    static let validator = LibPNGImageValidator()

    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        guard let validated = try? validator.validate(UntrustedImage(bytes: input)) else { return }
        let limit = EnvelopeLimits.maxImageDimension
        try require((1...limit).contains(validated.width) && (1...limit).contains(validated.height), "validated sides out of range")
        try require(validated.png.count <= EnvelopeLimits.maxImageBytes, "validated PNG too large")
        let original: DecodedImage
        let reread: DecodedImage
        do {
            original = try validator.decode(input)
            reread = try validator.decode(validated.png)
        } catch {
            throw PropertyViolation("an accepted image does not decode: \(error)")
        }
        try require(reread.width == validated.width && reread.height == validated.height, "validated sides disagree with the PNG")
        try require(reread == original, "re-encoding changed the pixels")
        let again = try? validator.validate(UntrustedImage(bytes: validated.png))
        try require(again?.png == validated.png, "validation is not idempotent")
    }

    /// Tiny PNGs of several colour types and bit depths, with and without metadata chunks,
    /// written chunk by chunk (the same construction as Tests/PNGImagesTests/PNGFixture.swift).
    static func seeds() -> [[UInt8]] {
        let gray = png(width: 4, height: 2, bitDepth: 8, colorType: 0, rows: [[0, 80, 160, 255], [255, 160, 80, 0]])
        let rgb = png(width: 2, height: 2, bitDepth: 8, colorType: 2, rows: [[255, 0, 0, 0, 255, 0], [0, 0, 255, 9, 9, 9]])
        let rgba = png(width: 2, height: 1, bitDepth: 8, colorType: 6, rows: [[1, 2, 3, 4, 250, 251, 252, 128]])
        let palette = png(
            width: 3, height: 1, bitDepth: 8, colorType: 3, rows: [[0, 1, 2]],
            extra: [chunk("PLTE", [255, 0, 0, 0, 255, 0, 0, 0, 255]), chunk("tRNS", [255, 128])])
        let deep = png(width: 1, height: 2, bitDepth: 16, colorType: 6, rows: [[0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xFF, 0xFF], [0, 0, 0, 0, 0, 0, 0, 0]])
        let bits = png(width: 8, height: 1, bitDepth: 1, colorType: 0, rows: [[0b1010_0110]])
        let tagged = png(
            width: 1, height: 1, bitDepth: 8, colorType: 2, rows: [[10, 20, 30]],
            extra: [chunk("gAMA", bigEndian(45455)), chunk("tEXt", Array("Comment\0hello".utf8))])
        return [gray, rgb, rgba, palette, deep, bits, tagged]
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return c ^ 0xFFFF_FFFF
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
    }

    /// One stored (uncompressed) deflate block in a zlib stream.
    private static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        let count = data.count
        return [0x78, 0x01, 1, UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)] + data + bigEndian(b << 16 | a)
    }

    private static func png(width: Int, height: Int, bitDepth: UInt8, colorType: UInt8, rows: [[UInt8]], extra: [[UInt8]] = []) -> [UInt8] {
        let ihdr = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [bitDepth, colorType, 0, 0, 0]
        let raw: [UInt8] = rows.flatMap { row -> [UInt8] in [0] + row }
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + extra.flatMap { $0 } + chunk("IDAT", zlibStored(raw))
            + chunk("IEND", [])
    }
}
