import Primitives

/// The one Noise protocol Parley speaks, and its fixed parameters.
///
/// Parley implements exactly `Noise_XX_25519_ChaChaPoly_BLAKE2b` from the Noise Protocol Framework,
/// revision 34 (<https://noiseprotocol.org/noise.html>). Supporting a single suite on purpose: there
/// is no negotiation to downgrade, and every constant below is a fixed property of the wire format.
public enum NoiseProtocol {
    /// The full protocol name, hashed into the initial handshake state (spec section 5.2).
    public static let name = "Noise_XX_25519_ChaChaPoly_BLAKE2b"

    /// The prologue both sides mix into the handshake hash: the ASCII bytes `parley/1`. A peer with
    /// a different prologue fails the handshake at the first encrypted field, so this doubles as the
    /// protocol version.
    public static let parleyPrologue: [UInt8] = Array("parley/1".utf8)

    /// DHLEN for Curve25519.
    public static let dhLength = 32
    /// HASHLEN for BLAKE2b.
    public static let hashLength = 64
    /// BLOCKLEN for BLAKE2b (the HMAC block size).
    public static let blockLength = 128
    /// The ChaChaPoly authentication tag length.
    public static let tagLength = 16
    /// The largest Noise message, handshake or transport (spec section 3).
    public static let maxMessageLength = 65535
}
