import Primitives
import SodiumCrypto

/// A deterministic random source (SplitMix64), so that every fuzz input replays exactly.
final class SeededRandomSource: RandomSource {
    private let state: LockedValue<UInt64>
    init(seed: UInt64) { state = LockedValue(seed) }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        state.withLock { state in
            for index in buffer.indices {
                state &+= 0x9e37_79b9_7f4a_7c15
                var z = state
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                buffer[index] = UInt8(truncatingIfNeeded: z ^ (z >> 31))
            }
        }
    }
}

/// libsodium behind the crypto port; created once per process.
let fuzzCrypto: SodiumCryptoProvider = {
    do { return try SodiumCryptoProvider() } catch { fatalError("libsodium unavailable: \(error)") }
}()

/// Builds a constant fixture; a failure is a bug in the fuzz harness itself.
func fixture<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fatalError("invalid fuzz fixture: \(error)") }
}

func key(_ fill: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int(fill) &+ $0) } }
