import Primitives
import SodiumCrypto

/// Decodes a hex literal from a published test vector. A malformed literal is a bug in the test
/// itself, so it becomes an empty array and the assertion using it fails visibly.
func hex(_ text: String) -> [UInt8] {
    Hex.decode(text.filter { !$0.isWhitespace }) ?? []
}

func secret(_ text: String) -> SecretBytes {
    SecretBytes(copying: hex(text))
}

let crypto: SodiumCryptoProvider = {
    do { return try SodiumCryptoProvider() } catch { preconditionFailure("libsodium unavailable: \(error)") }
}()
