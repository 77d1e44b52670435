internal import CSodium
import Primitives

/// The randomness port over libsodium's `randombytes_buf` (the kernel's `getrandom`).
public struct SodiumRandomSource: RandomSource {
    /// - Throws: ``CryptoError/libraryUnavailable`` if libsodium cannot be initialised.
    public init() throws(CryptoError) {
        _ = try SodiumCryptoProvider()
    }

    public func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        randombytes_buf(base, buffer.count)
    }
}
