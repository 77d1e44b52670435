import CPNG
import ClientCore
import Envelope

/// ``ImageValidator`` over libpng's simplified API (`png_image_*`).
///
/// Why the simplified API: it runs every libpng call inside its own `setjmp` (`png_safe_execute`)
/// and reports failure as a return value plus `image.message`, so libpng's `longjmp` never
/// crosses a Swift frame. The classic `png_create_read_struct` API needs a `setjmp` in the caller,
/// which Swift cannot provide safely; that is why it was rejected.
///
/// The simplified API also converts every PNG colour type and bit depth (palette, grayscale, 16-bit,
/// with or without tRNS) to the one format asked for, so validation decodes everything to RGBA8
/// and writes that back. Writing from pixels is what strips metadata: the simplified writer emits
/// only IHDR, a colour-space chunk (sRGB or gAMA), IDAT and IEND, whatever the input carried.
///
/// Memory: the input is at most ``EnvelopeLimits/maxImageBytes``, and the pixel buffer is
/// allocated only after the header's sides are checked against
/// ``EnvelopeLimits/maxImageDimension``, so the worst case is one 8192 x 8192 x 4 = 256 MiB buffer
/// plus the re-encoded output.
public struct LibPNGImageValidator: ImageValidator {
    /// The 8 bytes every PNG stream starts with (PNG specification, section 5.2).
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public init() {}

    public func validate(_ image: UntrustedImage) throws(ImageError) -> ValidatedImage {
        let decoded = try decode(image.bytes)
        let png = try Self.encode(decoded)
        return ValidatedImage(png: png, width: decoded.width, height: decoded.height)
    }

    public func decode(_ png: [UInt8]) throws(ImageError) -> DecodedImage {
        // Cheap checks first, in the order the port documents, before libpng sees a byte.
        guard !png.isEmpty else { throw .empty }
        guard png.count <= EnvelopeLimits.maxImageBytes else {
            throw .tooLarge(bytes: png.count, limit: EnvelopeLimits.maxImageBytes)
        }
        guard png.count >= Self.signature.count else {
            throw Self.signature.starts(with: png) ? .truncated : .notPNG
        }
        guard png.starts(with: Self.signature) else { throw .notPNG }

        // `withUnsafeBufferPointer` keeps `png` alive and unmoved from begin to finish: begin_read
        // stores a pointer into it and finish_read reads the rest of the stream through it.
        let result = png.withUnsafeBufferPointer { input in Self.decodeRGBA(input) }
        return try result.get()
    }

    /// The libpng part of ``decode(_:)``. Returns a `Result` rather than throwing so that the
    /// `withUnsafeBufferPointer` closure around it stays non-throwing.
    private static func decodeRGBA(_ input: UnsafeBufferPointer<UInt8>) -> Result<DecodedImage, ImageError> {
        var image = png_image()
        image.version = PARLEY_PNG_IMAGE_VERSION
        // Every path, success or failure, releases libpng's state. libpng frees it itself after
        // a failed begin or any finish, and png_image_free on a freed image is a no-op, so the
        // unconditional call is safe and covers the path where we stop between begin and finish.
        defer { png_image_free(&image) }

        guard png_image_begin_read_from_memory(&image, input.baseAddress, input.count) != 0 else {
            return .failure(readError(image))
        }

        let width = Int(image.width)
        let height = Int(image.height)
        let limit = EnvelopeLimits.maxImageDimension
        // Before allocating: a 60-byte file may claim 100000 x 100000 pixels (40 GB of RGBA).
        guard width <= limit, height <= limit else {
            return .failure(.dimensionsTooLarge(width: width, height: height, limit: limit))
        }
        // libpng refuses a zero side in IHDR already; checked again because the buffer maths
        // below relies on it.
        guard width >= 1, height >= 1 else {
            return .failure(.corrupt(reason: "zero width or height"))
        }

        image.format = PARLEY_PNG_FORMAT_RGBA
        // A 16-bit PNG with no gAMA or sRGB chunk is read as sRGB-encoded, as browsers and image
        // viewers do. libpng's default would treat it as linear light and brighten it visibly in
        // the re-encoded copy, so the receiver would see a different picture from the sender.
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)

        let rowBytes = width * 4  // <= 32768: fits png_int_32.
        var rgba = [UInt8](repeating: 0, count: rowBytes * height)
        let finished = rgba.withUnsafeMutableBytes { buffer in
            png_image_finish_read(&image, nil, buffer.baseAddress, png_int_32(rowBytes), nil)
        }
        guard finished != 0 else { return .failure(readError(image)) }

        guard let decoded = DecodedImage(width: width, height: height, rgba: rgba) else {
            return .failure(.corrupt(reason: "pixel buffer does not match the image size"))
        }
        return .success(decoded)
    }

    /// Writes `decoded` as a fresh RGBA8 PNG. Two calls, as libpng documents: the first, with no
    /// output buffer, compresses to learn the size (so an oversized result is refused before its
    /// buffer is allocated); the second writes into a buffer of exactly that size.
    static func encode(_ decoded: DecodedImage) throws(ImageError) -> [UInt8] {
        var image = png_image()
        image.version = PARLEY_PNG_IMAGE_VERSION
        image.width = UInt32(decoded.width)
        image.height = UInt32(decoded.height)
        image.format = PARLEY_PNG_FORMAT_RGBA
        // flags = 0: the pixels are declared sRGB (the writer adds an sRGB chunk). The input's
        // cHRM/iCCP are deliberately not carried over: an ICC profile is free-form metadata.
        image.flags = 0
        defer { png_image_free(&image) }

        var size: png_alloc_size_t = 0
        let measured = decoded.rgba.withUnsafeBytes { pixels in
            png_image_write_to_memory(&image, nil, &size, 0, pixels.baseAddress, 0, nil)
        }
        guard measured != 0, size > 0 else { throw .encodingFailed(reason: message(of: image)) }
        guard size <= png_alloc_size_t(EnvelopeLimits.maxImageBytes) else {
            throw .reencodedTooLarge(bytes: Int(clamping: size), limit: EnvelopeLimits.maxImageBytes)
        }

        var output = [UInt8](repeating: 0, count: Int(size))
        var written = size
        let wrote = output.withUnsafeMutableBytes { out in
            decoded.rgba.withUnsafeBytes { pixels in
                png_image_write_to_memory(&image, out.baseAddress, &written, 0, pixels.baseAddress, 0, nil)
            }
        }
        guard wrote != 0, written <= size else { throw .encodingFailed(reason: message(of: image)) }
        output.removeSubrange(Int(written)...)
        return output
    }

    /// Translates a failed read into an ``ImageError``. libpng's memory reader reports running
    /// off the end of the input as "read beyond end of data"; everything else is corruption.
    private static func readError(_ image: png_image) -> ImageError {
        let text = message(of: image)
        if text.contains("read beyond end of data") { return .truncated }
        return .corrupt(reason: text)
    }

    /// `image.message`, a NUL-terminated C string in a fixed 64-byte array.
    private static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "libpng gave no message" : text
        }
    }
}
