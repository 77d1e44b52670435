/// The randomness port: a cryptographically secure source of bytes.
///
/// Domain code never reads the operating system's randomness itself; it asks this port, so that
/// tests can inject a seeded or scripted source and replay exact key material (as libsignal passes
/// its `csprng`). The production adapter is `SodiumRandomSource` (`randombytes_buf`).
public protocol RandomSource: Sendable {
    /// Fills `buffer` with random bytes. Cannot fail: a source that cannot deliver must trap
    /// rather than return predictable bytes.
    func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

extension RandomSource {
    /// `count` random bytes for a public value (ids, nonces, salts).
    public func bytes(count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }

    /// `count` random bytes for a secret, filled in place in secret storage.
    public func secret(count: Int) -> SecretBytes {
        SecretBytes(count: count) { fill($0) }
    }

    /// A uniformly random 32-bit integer.
    public func uint32() -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }
}
