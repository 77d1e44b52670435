/// ISO/IEC 7816-4 padding to a multiple of 160 bytes, applied before encryption so that
/// ciphertext lengths reveal only a coarse size class (any 0-159 byte content pads to 160).
public enum Padding {
    public static let blockSize = 160

    /// `content` || 0x80 || zero bytes, to the next multiple of ``blockSize`` (always adds at
    /// least one byte).
    public static func pad(_ content: [UInt8]) -> [UInt8] {
        let paddedLength = (content.count / blockSize + 1) * blockSize
        var out = content
        out.reserveCapacity(paddedLength)
        out.append(0x80)
        out.append(contentsOf: repeatElement(0, count: paddedLength - content.count - 1))
        return out
    }

    /// Removes the padding, or nil if `padded` is not validly padded (a wrong length, or no 0x80
    /// marker after the trailing zeroes).
    public static func unpad(_ padded: [UInt8]) -> [UInt8]? {
        guard !padded.isEmpty, padded.count % blockSize == 0 else { return nil }
        var index = padded.count - 1
        while index >= 0 && padded[index] == 0 { index -= 1 }
        guard index >= 0, padded[index] == 0x80 else { return nil }
        return Array(padded[..<index])
    }
}
