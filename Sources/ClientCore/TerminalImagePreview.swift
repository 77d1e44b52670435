/// Draws a ``DecodedImage`` in a terminal with 24-bit colour and the upper half block "▀".
///
/// Each text cell shows two pixels stacked vertically: the glyph's foreground colour is the top
/// pixel and its background colour the bottom one. Terminal cells are roughly twice as tall as
/// they are wide, so these half-cell pixels are close to square and the image keeps its shape.
/// Transparency is composited over black, because a terminal cell has no alpha and a preview
/// must not depend on the user's background colour to be legible in a predictable way.
///
/// Pure: no I/O, no terminal queries; the caller passes the terminal's size. Never traps:
/// ``DecodedImage`` guarantees its pixel count, and every index below stays inside it.
public struct TerminalImagePreview: Sendable {
    /// The widest the preview may be, in text columns (one pixel per column).
    public let maxColumns: Int
    /// The tallest the preview may be, in text rows (two pixels per row).
    public let maxRows: Int

    /// The escape sequence that ends every line, so colours never bleed into the next output.
    public static let reset = "\u{1B}[0m"

    public init(maxColumns: Int, maxRows: Int) {
        self.maxColumns = maxColumns
        self.maxRows = maxRows
    }

    /// The pixel size the image is drawn at: the largest size that fits `maxColumns` x
    /// `2 * maxRows` pixels, keeps the aspect ratio (to the nearest pixel), and is never larger
    /// than the image (one image pixel per column at most, so small images are not blown up).
    /// Nil when the box is empty.
    public func outputSize(for image: DecodedImage) -> (width: Int, height: Int)? {
        guard maxColumns > 0, maxRows > 0 else { return nil }
        let boxHeight = maxRows.multipliedReportingOverflow(by: 2)
        let maxPixelRows = boxHeight.overflow ? Int.max : boxHeight.partialValue
        // Scale factor = min(1, maxColumns / width, maxPixelRows / height), compared as fractions
        // in Double: the sides are at most a few thousand, so rounding cannot change the result.
        let scale = min(1.0, Double(maxColumns) / Double(image.width), Double(maxPixelRows) / Double(image.height))
        let width = min(maxColumns, image.width, max(1, Int((Double(image.width) * scale).rounded())))
        let height = min(maxPixelRows, image.height, max(1, Int((Double(image.height) * scale).rounded())))
        return (width, height)
    }

    /// The preview as lines joined by "\n" (no trailing newline). Every line holds exactly
    /// `outputSize(for:).width` cells and ends with ``reset``. Empty when the box is empty.
    public func render(_ image: DecodedImage) -> String {
        lines(image).joined(separator: "\n")
    }

    /// The preview's lines; see ``render(_:)``.
    public func lines(_ image: DecodedImage) -> [String] {
        guard let size = outputSize(for: image) else { return [] }
        let pixels = Self.resample(image, width: size.width, height: size.height)
        var lines: [String] = []
        lines.reserveCapacity((size.height + 1) / 2)
        var row = 0
        while row < size.height {
            var line = ""
            for column in 0..<size.width {
                let top = pixels[row * size.width + column]
                // An odd height leaves the last bottom half empty: black, like full transparency.
                let bottom = row + 1 < size.height ? pixels[(row + 1) * size.width + column] : RGB(r: 0, g: 0, b: 0)
                line += "\u{1B}[38;2;\(top.r);\(top.g);\(top.b)m\u{1B}[48;2;\(bottom.r);\(bottom.g);\(bottom.b)m▀"
            }
            line += Self.reset
            lines.append(line)
            row += 2
        }
        return lines
    }

    struct RGB: Equatable {
        var r: Int
        var g: Int
        var b: Int
    }

    /// Area-average downscaling (box filter), with each source pixel composited over black first.
    /// Compositing over black is `c * a / 255`, which is linear, so averaging the composited
    /// values equals compositing the average. Nearest-neighbour was rejected: it drops thin lines
    /// and text strokes, which are what people screenshot.
    static func resample(_ image: DecodedImage, width: Int, height: Int) -> [RGB] {
        var out: [RGB] = []
        out.reserveCapacity(width * height)
        for oy in 0..<height {
            // Source rows [y0, y1): never empty, because height <= image.height.
            let y0 = oy * image.height / height
            let y1 = max(y0 + 1, (oy + 1) * image.height / height)
            for ox in 0..<width {
                let x0 = ox * image.width / width
                let x1 = max(x0 + 1, (ox + 1) * image.width / width)
                var sumR = 0, sumG = 0, sumB = 0
                for y in y0..<y1 {
                    var index = (y * image.width + x0) * 4
                    for _ in x0..<x1 {
                        let alpha = Int(image.rgba[index + 3])
                        sumR += Int(image.rgba[index]) * alpha
                        sumG += Int(image.rgba[index + 1]) * alpha
                        sumB += Int(image.rgba[index + 2]) * alpha
                        index += 4
                    }
                }
                let divisor = (y1 - y0) * (x1 - x0) * 255
                // Rounded integer division keeps an opaque single pixel's colour exact.
                out.append(RGB(
                    r: (sumR + divisor / 2) / divisor,
                    g: (sumG + divisor / 2) / divisor,
                    b: (sumB + divisor / 2) / divisor))
            }
        }
        return out
    }
}
