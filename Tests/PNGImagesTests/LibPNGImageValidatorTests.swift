import ClientCore
import Envelope
import Testing
@testable import PNGImages

@Suite struct LibPNGImageValidatorTests {
    let validator = LibPNGImageValidator()

    /// 3 x 2 pixels with opaque, half-transparent and fully transparent values.
    static let pixels: [UInt8] = [
        255, 0, 0, 255, /**/ 0, 255, 0, 255, /**/ 0, 0, 255, 255,
        10, 20, 30, 128, /**/ 200, 100, 50, 1, /**/ 7, 8, 9, 0,
    ]

    static let metadataTypes: Set<String> = ["tEXt", "zTXt", "iTXt", "eXIf", "tIME", "iCCP", "pHYs", "sPLT", "hIST"]

    @Test func validatedImageCarriesNoMetadataAndTheSamePixels() throws {
        let text = Array("GPS: 48.85,2.35".utf8)
        let metadata: [[UInt8]] = [
            PNGFixture.chunk("tEXt", Array("Comment".utf8) + [0] + text),
            PNGFixture.chunk("zTXt", Array("Location".utf8) + [0, 0] + PNGFixture.zlibStored(text)),
            PNGFixture.chunk("iTXt", Array("Where".utf8) + [0, 0, 0] + Array("en".utf8) + [0, 0] + text),
            PNGFixture.chunk("eXIf", Array("MM".utf8) + [0, 42, 0, 0, 0, 8, 0, 0] + text),
            PNGFixture.chunk("tIME", [0x07, 0xE8, 3, 9, 7, 5, 3]),
        ]
        // The base stream comes from libpng's own writer (the adapter's encoder), then the
        // metadata is spliced in by hand with correct CRCs.
        let decoded = try #require(DecodedImage(width: 3, height: 2, rgba: Self.pixels))
        let base = try LibPNGImageValidator.encode(decoded)
        let input = PNGFixture.inserting(metadata, afterIHDRof: base)
        #expect(PNGFixture.contains(input, text))
        #expect(Set(PNGFixture.chunkTypes(input)).isSuperset(of: ["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]))

        let validated = try validator.validate(UntrustedImage(bytes: input, fileName: "holiday.png"))

        #expect(validated.width == 3 && validated.height == 2)
        let types = PNGFixture.chunkTypes(validated.png)
        #expect(types.first == "IHDR" && types.last == "IEND")
        #expect(Set(types).isSubset(of: ["IHDR", "sRGB", "gAMA", "IDAT", "IEND"]), "\(types)")
        // Not just as parsed chunks: the type names and the secret text appear nowhere.
        for type in Self.metadataTypes {
            #expect(!PNGFixture.contains(validated.png, Array(type.utf8)), "\(type) survived")
        }
        #expect(!PNGFixture.contains(validated.png, text))
        #expect(try validator.decode(validated.png).rgba == Self.pixels)
    }

    @Test func handBuiltRGBAValidatesToTheSamePixels() throws {
        let input = PNGFixture.rgba(width: 3, height: 2, pixels: Self.pixels)
        let validated = try validator.validate(UntrustedImage(bytes: input))
        let decoded = try validator.decode(validated.png)
        #expect(decoded.rgba == Self.pixels)
        #expect(try validator.decode(input) == decoded)
    }

    @Test func paletteWithTransparencyDecodesToRGBA() throws {
        // 4 x 2, 2 bits per index (sub-byte packing), a 4-entry palette and a shorter tRNS.
        let palette: [UInt8] = [255, 0, 0, /**/ 0, 255, 0, /**/ 0, 0, 255, /**/ 255, 255, 255]
        let input = PNGFixture.png(
            width: 4, height: 2, bitDepth: 2, colorType: 3,
            rows: [[0b00_01_10_11], [0b11_10_01_00]],
            extra: [PNGFixture.chunk("PLTE", palette), PNGFixture.chunk("tRNS", [0x80, 0x40])])
        let validated = try validator.validate(UntrustedImage(bytes: input))
        let decoded = try validator.decode(validated.png)
        let red: [UInt8] = [255, 0, 0, 0x80], green: [UInt8] = [0, 255, 0, 0x40]
        let blue: [UInt8] = [0, 0, 255, 255], white: [UInt8] = [255, 255, 255, 255]
        #expect(decoded.width == 4 && decoded.height == 2)
        #expect(decoded.rgba == red + green + blue + white + white + blue + green + red)
    }

    @Test func sixteenBitGrayscaleDecodesToRGBA() throws {
        // Samples that are multiples of 257 map to exact 8-bit values (v / 257), since an untagged
        // 16-bit image is read as sRGB-encoded.
        let samples: [UInt16] = [0x0000, 0x4040, 0x8080, 0xFFFF]
        let row = samples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let input = PNGFixture.png(width: 4, height: 1, bitDepth: 16, colorType: 0, rows: [row])
        let validated = try validator.validate(UntrustedImage(bytes: input))
        #expect(validated.width == 4 && validated.height == 1)
        let decoded = try validator.decode(validated.png)
        #expect(decoded.rgba == [0, 0, 0, 255, 64, 64, 64, 255, 128, 128, 128, 255, 255, 255, 255, 255])
    }

    @Test func eightBitGrayscaleWithAlphaDecodesToRGBA() throws {
        let input = PNGFixture.png(width: 2, height: 1, bitDepth: 8, colorType: 4, rows: [[10, 255, 200, 0]])
        let decoded = try validator.decode(validator.validate(UntrustedImage(bytes: input)).png)
        #expect(decoded.rgba == [10, 10, 10, 255, 200, 200, 200, 0])
    }

    @Test func largestAllowedSideIsAccepted() throws {
        // 8192 x 1: the limit is inclusive.
        let side = EnvelopeLimits.maxImageDimension
        let input = PNGFixture.png(width: side, height: 1, bitDepth: 8, colorType: 0, rows: [[UInt8](repeating: 7, count: side)])
        let validated = try validator.validate(UntrustedImage(bytes: input))
        #expect(validated.width == side && validated.height == 1)
    }

    @Test func checksRunInTheDocumentedOrder() {
        // Empty beats everything; size beats the signature; the signature beats parsing.
        #expect(throws: ImageError.empty) { try validator.validate(UntrustedImage(bytes: [])) }
        let big = [UInt8](repeating: 0x41, count: EnvelopeLimits.maxImageBytes + 1)
        #expect(throws: ImageError.tooLarge(bytes: big.count, limit: EnvelopeLimits.maxImageBytes)) {
            try validator.validate(UntrustedImage(bytes: big))
        }
        #expect(throws: ImageError.notPNG) { try validator.validate(UntrustedImage(bytes: [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 0, 0])) }
        #expect(throws: ImageError.notPNG) { try validator.validate(UntrustedImage(bytes: [0x42])) }
        #expect(throws: ImageError.truncated) { try validator.validate(UntrustedImage(bytes: [0x89, 0x50])) }
    }

    @Test func decodedImageRefusesAMismatchedPixelCount() {
        #expect(DecodedImage(width: 2, height: 2, rgba: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(DecodedImage(width: 0, height: 2, rgba: []) == nil)
        #expect(DecodedImage(width: Int.max, height: 2, rgba: []) == nil)
        #expect(DecodedImage(width: 1, height: 1, rgba: [1, 2, 3, 4]) != nil)
    }
}
