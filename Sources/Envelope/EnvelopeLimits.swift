import Primitives

/// Every bound the envelope codecs enforce, in one place. Decoders check these before allocating.
public enum EnvelopeLimits {
    /// Largest PNG an image message may carry (10 MiB).
    public static let maxImageBytes = 10 << 20
    /// Largest image side, in pixels.
    public static let maxImageDimension = 8192
    /// Largest text message, in UTF-8 bytes.
    public static let maxTextBytes = 64 << 10
    /// Longest file name carried with an image, in UTF-8 bytes.
    public static let maxFileNameBytes = 255
    /// Most message ids in one receipt.
    public static let maxReceiptIDs = 1024
    /// Largest encoded plaintext content (an image plus its fields).
    public static let maxContentBytes = maxImageBytes + 4096
    /// Largest ciphertext in an envelope: content, padding (< 160 bytes) and the AEAD tag.
    public static let maxCiphertextBytes = maxContentBytes + 160 + 16
    /// Largest encoded envelope: the ciphertext, the header and a prelude with its ML-KEM
    /// ciphertext (PQXDH), with room to spare.
    public static let maxEnvelopeBytes = maxCiphertextBytes + 256 + 4 + MLKEMCiphertext.byteCount
}
