/// Comparisons whose running time does not depend on the contents being compared.
public enum ConstantTime {
    /// True when both buffers have the same length and the same bytes. Runs in time proportional to
    /// the length, whatever the contents; lengths are not secret.
    @inline(never)
    public static func equal(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<lhs.count {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }

    /// `equal(_:_:)` for any two byte collections.
    public static func equal(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        Array(lhs).withUnsafeBytes { left in
            Array(rhs).withUnsafeBytes { right in
                equal(left, right)
            }
        }
    }
}
