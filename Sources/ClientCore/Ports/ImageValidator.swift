import Envelope

/// Image bytes as they arrived: from a file the user picked, or from a peer's message. Nothing
/// about them is trusted; the only thing to do with one is hand it to an ``ImageValidator``.
public struct UntrustedImage: Sendable, Hashable {
    /// The bytes exactly as received (possibly empty, huge, or not a PNG at all).
    public let bytes: [UInt8]
    /// The file name the sender or the file picker supplied, if any. Display-only: it is never
    /// used as a path (the image library names files itself).
    public let fileName: String?

    public init(bytes: [UInt8], fileName: String? = nil) {
        self.bytes = bytes
        self.fileName = fileName
    }
}

/// A PNG that an ``ImageValidator`` decoded completely and re-encoded from its pixels.
///
/// Guarantees: `png` is a PNG written by the validator itself, 8-bit RGBA, holding only the
/// critical chunks and colour-space information (no text, EXIF, time or other metadata chunk
/// from the original survives, so location or device data cannot leak); `width` and `height` are
/// in `1...EnvelopeLimits.maxImageDimension`; `png.count <= EnvelopeLimits.maxImageBytes`.
///
/// Only an ``ImageValidator`` makes one (swift-certificates' `UnverifiedCertificateChain` ->
/// `ValidatedCertificateChain` pattern). The initialiser is `package`, not `public`, so nothing
/// outside Parley can forge one; within the package only validator adapters (and tests) call
/// it. A file-private initialiser was rejected because the validator is an adapter in another
/// module, and Swift has no narrower cross-module access than `package`.
public struct ValidatedImage: Sendable, Hashable {
    /// The re-encoded PNG stream.
    public let png: [UInt8]
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int

    /// For ``ImageValidator`` adapters only: the caller vouches for every guarantee above.
    package init(png: [UInt8], width: Int, height: Int) {
        self.png = png
        self.width = width
        self.height = height
    }
}

/// An image decoded to 8-bit RGBA pixels (not premultiplied, sRGB), row-major, top row first.
public struct DecodedImage: Sendable, Hashable {
    /// Width in pixels (at least 1).
    public let width: Int
    /// Height in pixels (at least 1).
    public let height: Int
    /// `width * height * 4` bytes: R, G, B, A for each pixel.
    public let rgba: [UInt8]

    /// Returns nil unless both sides are positive and `rgba` holds exactly `width * height * 4`
    /// bytes, so code that indexes the pixels (the terminal preview) can never read out of bounds.
    public init?(width: Int, height: Int, rgba: [UInt8]) {
        guard width > 0, height > 0 else { return nil }
        let (area, overflowA) = width.multipliedReportingOverflow(by: height)
        let (count, overflowB) = area.multipliedReportingOverflow(by: 4)
        guard !overflowA, !overflowB, count == rgba.count else { return nil }
        self.width = width
        self.height = height
        self.rgba = rgba
    }
}

/// Why an image was refused. Cases are checked in the order listed, so an input that is both
/// empty and not a PNG reports ``empty``.
public enum ImageError: Error, Equatable, Sendable {
    /// The input has no bytes at all.
    case empty
    /// The input is larger than `limit` bytes (``EnvelopeLimits/maxImageBytes``); refused before
    /// any parsing so a huge input costs nothing.
    case tooLarge(bytes: Int, limit: Int)
    /// The input does not start with the 8-byte PNG signature (a JPEG, text, anything else).
    case notPNG
    /// The input is a PNG stream that ends before the image does (including an input shorter
    /// than the signature whose bytes are a prefix of it).
    case truncated
    /// The header declares a side larger than `limit` (``EnvelopeLimits/maxImageDimension``).
    /// Checked before the pixel buffer is allocated, so a tiny file claiming 100000 x 100000
    /// pixels cannot make the client allocate gigabytes.
    case dimensionsTooLarge(width: Int, height: Int, limit: Int)
    /// libpng refused the stream (bad CRC, bad compressed data, invalid header, ...); `reason` is
    /// libpng's own message, for the local log only.
    case corrupt(reason: String)
    /// The image decoded but re-encoding it failed (`reason` is libpng's message).
    case encodingFailed(reason: String)
    /// The re-encoded PNG is larger than `limit` (``EnvelopeLimits/maxImageBytes``), so it could
    /// not be sent even though the original fitted (the original was compressed better).
    case reencodedTooLarge(bytes: Int, limit: Int)
}

/// The trust boundary for images: turns untrusted bytes into a ``ValidatedImage`` or refuses
/// them, and decodes PNGs to pixels for display.
///
/// Exists so that the client never stores, shows or forwards bytes it has not fully decoded:
/// the validated PNG is re-encoded from pixels, which both proves the whole stream decodes and
/// strips every metadata chunk the sender's software added. Implemented by
/// `LibPNGImageValidator` (adapter `PNGImages`). Implementations must never trap or allocate
/// without bound on any input; every limit comes from ``EnvelopeLimits``.
public protocol ImageValidator: Sendable {
    /// Decodes `image` completely and re-encodes its pixels as a metadata-free RGBA8 PNG.
    ///
    /// Checks, in order: non-empty, at most ``EnvelopeLimits/maxImageBytes``, PNG signature,
    /// readable header, both sides in `1...EnvelopeLimits.maxImageDimension` (before allocating
    /// pixels), the whole image decodes, the re-encoded PNG fits the byte limit.
    /// - Throws: the first ``ImageError`` that applies, in the order above.
    func validate(_ image: UntrustedImage) throws(ImageError) -> ValidatedImage

    /// Decodes a PNG (normally one that was validated earlier and read back from disk, which is
    /// why it is checked as carefully as untrusted input) to 8-bit RGBA pixels.
    /// - Throws: the same ``ImageError`` cases as ``validate(_:)``, except the re-encoding ones.
    func decode(_ png: [UInt8]) throws(ImageError) -> DecodedImage
}
