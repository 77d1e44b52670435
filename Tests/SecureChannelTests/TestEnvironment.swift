import Primitives
import SodiumCrypto
@testable import SecureChannel

/// The one place tests get their ports: the libsodium crypto adapter and deterministic randomness.
struct TestEnvironment {
    let crypto: SodiumCryptoProvider

    init() throws {
        crypto = try SodiumCryptoProvider()
    }

    /// A static key pair derived from a one-byte seed, so tests read as "key 1", "key 2".
    func staticKeyPair(_ seed: UInt8) throws -> X25519KeyPair {
        try crypto.x25519KeyPair(secretKey: X25519SecretKey(SecretBytes(copying: [UInt8](repeating: seed, count: 32))))
    }

    /// A completed handshake between an in-process initiator and responder.
    func handshake(
        initiatorPrologue: [UInt8] = NoiseProtocol.parleyPrologue,
        responderPrologue: [UInt8] = NoiseProtocol.parleyPrologue
    ) throws -> (initiator: NoiseTransport, responder: NoiseTransport) {
        var initiator = try HandshakeState(
            role: .initiator, localStatic: staticKeyPair(1), prologue: initiatorPrologue,
            crypto: crypto, random: SeededRandomSource(seed: 1))
        var responder = try HandshakeState(
            role: .responder, localStatic: staticKeyPair(2), prologue: responderPrologue,
            crypto: crypto, random: SeededRandomSource(seed: 2))
        _ = try responder.readMessage(initiator.writeMessage())
        _ = try initiator.readMessage(responder.writeMessage())
        _ = try responder.readMessage(initiator.writeMessage())
        return (try initiator.split(), try responder.split())
    }
}

/// A deterministic random source (SplitMix64). Not cryptographically secure: tests only.
final class SeededRandomSource: RandomSource {
    private let state: LockedValue<UInt64>

    init(seed: UInt64) {
        state = LockedValue(seed)
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        state.withLock { value in
            for index in buffer.indices {
                value &+= 0x9E37_79B9_7F4A_7C15
                var mixed = value
                mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
                mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
                buffer[index] = UInt8(truncatingIfNeeded: mixed ^ (mixed >> 31))
            }
        }
    }
}

/// A random source that hands out fixed bytes in order (for known-answer vectors), then zeroes.
final class ScriptedRandomSource: RandomSource {
    private let remaining: LockedValue<[UInt8]>

    init(_ bytes: [UInt8]) {
        remaining = LockedValue(bytes)
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        remaining.withLock { bytes in
            for index in buffer.indices {
                buffer[index] = bytes.isEmpty ? 0 : bytes.removeFirst()
            }
        }
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        self = Hex.decode(hex) ?? []
    }
}
