import ClientCore
import Testing
@testable import PNGImages

@Suite struct TerminalImagePreviewTests {
    static let esc = "\u{1B}"

    @Test func twoByTwoRendersToTheExactEscapes() throws {
        // Top row: red, half-transparent green. Bottom row: blue, transparent white.
        let image = try #require(DecodedImage(width: 2, height: 2, rgba: [
            255, 0, 0, 255, /**/ 0, 255, 0, 128,
            0, 0, 255, 255, /**/ 255, 255, 255, 0,
        ]))
        let rendered = TerminalImagePreview(maxColumns: 80, maxRows: 24).render(image)
        let e = Self.esc
        // Green at alpha 128 over black: 255 * 128 / 255 = 128. Transparent white: black.
        #expect(rendered == "\(e)[38;2;255;0;0m\(e)[48;2;0;0;255m▀\(e)[38;2;0;128;0m\(e)[48;2;0;0;0m▀\(e)[0m")
    }

    @Test func aWideImageIsScaledToTheColumnsKeepingItsShape() throws {
        let image = try #require(DecodedImage(width: 100, height: 50, rgba: [UInt8](repeating: 200, count: 100 * 50 * 4)))
        let preview = TerminalImagePreview(maxColumns: 20, maxRows: 100)
        #expect(preview.outputSize(for: image)! == (width: 20, height: 10))
        let lines = preview.lines(image)
        #expect(lines.count == 5)  // 10 pixel rows, 2 per line.
        for line in lines {
            #expect(line.filter { $0 == "▀" }.count == 20)
            #expect(line.hasSuffix(TerminalImagePreview.reset))
        }
        #expect(preview.render(image) == lines.joined(separator: "\n"))
    }

    @Test func aTallImageIsLimitedByRows() throws {
        let image = try #require(DecodedImage(width: 50, height: 100, rgba: [UInt8](repeating: 255, count: 50 * 100 * 4)))
        let preview = TerminalImagePreview(maxColumns: 80, maxRows: 10)
        #expect(preview.outputSize(for: image)! == (width: 10, height: 20))
        #expect(preview.lines(image).count == 10)
    }

    @Test func aSmallImageIsNotUpscaled() throws {
        let image = try #require(DecodedImage(width: 3, height: 3, rgba: [UInt8](repeating: 255, count: 36)))
        let preview = TerminalImagePreview(maxColumns: 80, maxRows: 24)
        #expect(preview.outputSize(for: image)! == (width: 3, height: 3))
        let lines = preview.lines(image)
        #expect(lines.count == 2)
        // The odd last row's bottom half is black.
        #expect(lines[1].contains("\(Self.esc)[48;2;0;0;0m▀"))
    }

    @Test func downscalingAveragesTheArea() throws {
        // 2 x 2 -> 1 x 1 (maxColumns 1): white, black, white, black averages to 128.
        let image = try #require(DecodedImage(width: 2, height: 2, rgba: [
            255, 255, 255, 255, /**/ 0, 0, 0, 255,
            255, 255, 255, 255, /**/ 0, 0, 0, 255,
        ]))
        let e = Self.esc
        #expect(TerminalImagePreview(maxColumns: 1, maxRows: 1).render(image) == "\(e)[38;2;128;128;128m\(e)[48;2;0;0;0m▀\(e)[0m")
    }

    @Test func anEmptyBoxRendersNothing() throws {
        let image = try #require(DecodedImage(width: 1, height: 1, rgba: [1, 2, 3, 4]))
        #expect(TerminalImagePreview(maxColumns: 0, maxRows: 5).render(image) == "")
        #expect(TerminalImagePreview(maxColumns: 5, maxRows: -1).render(image) == "")
    }

    @Test func aDecodedPNGPreviews() throws {
        let validator = LibPNGImageValidator()
        let png = PNGFixture.rgba(width: 1, height: 2, pixels: [9, 8, 7, 255, 1, 2, 3, 255])
        let decoded = try validator.decode(validator.validate(UntrustedImage(bytes: png)).png)
        let e = Self.esc
        #expect(TerminalImagePreview(maxColumns: 4, maxRows: 4).render(decoded) == "\(e)[38;2;9;8;7m\(e)[48;2;1;2;3m▀\(e)[0m")
    }
}
