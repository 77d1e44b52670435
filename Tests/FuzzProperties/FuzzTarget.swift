#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A property that a fuzz target checks on every input: not only "does not crash", but a statement
/// about what the code under test must do with any byte string (see Architecture.md, "Test
/// strategy"). The same check runs three ways: inside the libFuzzer executables in `Fuzz/`, over
/// the committed seeds and crash inputs in `Tests/FuzzReplayTests`, and over ``seeds`` there too.
public struct FuzzTarget: Sendable {
    /// The directory name under `Fuzz/Corpus/` and `Fuzz/Crashes/`, and the executable's suffix.
    public let name: String
    /// Throws a ``PropertyViolation`` for an input on which the property fails.
    public let check: @Sendable ([UInt8]) throws(PropertyViolation) -> Void
    /// Seed inputs built from real encodings (what `Fuzz/Corpus/<name>/` was generated from).
    public let seeds: @Sendable () -> [[UInt8]]

    /// Every target, in the order `make fuzz` runs them.
    public static let all: [FuzzTarget] = [
        WireCodecProperty.target, EnvelopeProperty.target, SessionStateProperty.target,
        NoiseResponderProperty.target, ClientRecordProperty.target, PNGValidationProperty.target,
    ]

    /// The body of `LLVMFuzzerTestOneInput`: a violated property aborts, so libFuzzer records the
    /// input as a crash (it writes the file only with `SWIFT_BACKTRACE=enable=no`).
    public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        do {
            try check(bytes)
        } catch {
            let report = "\(name): property violated: \(error)\n"
            report.utf8CString.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count - 1) }
            abort()
        }
    }
}

/// An input on which a fuzz property does not hold.
public struct PropertyViolation: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Throws unless `condition` holds.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(PropertyViolation) {
    if !condition { throw PropertyViolation(message()) }
}

/// Bytes equal up to ASCII upper case in `original` where `reencoded` has the lower case: the one
/// normalisation every Parley decoder applies on purpose (``Username`` folds A-Z to a-z).
func equalUpToUsernameCase(_ original: [UInt8], _ reencoded: [UInt8]) -> Bool {
    guard original.count == reencoded.count else { return false }
    for (a, b) in zip(original, reencoded) where a != b {
        guard (0x41...0x5A).contains(a), b == a + 0x20 else { return false }
    }
    return true
}

/// A tiny byte-stream reader for splitting one fuzz input into several values.
struct InputCursor {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> Int { Int(byte()) << 8 | Int(byte()) }

    mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, offset + max(0, count))
        defer { offset = end }
        return Array(bytes[min(offset, end)..<end])
    }

    mutating func rest() -> [UInt8] { take(bytes.count - offset) }
}

/// Prefixes a payload with a one-byte mode selector (the seeds of multi-mode targets).
func mode(_ selector: UInt8, _ payload: [UInt8]) -> [UInt8] { [selector] + payload }

/// A 16-bit big-endian length followed by the bytes (how multi-part inputs are laid out).
func part(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes }
