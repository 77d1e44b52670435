/// A bounded binary writer and reader shared by every codec in Parley (envelopes, session state,
/// the wire protocol). Integers are big-endian; variable-length fields carry an explicit length
/// prefix, and the reader checks every length against what remains and against a caller's bound
/// before it allocates, so decoding hostile bytes can fail but never trap or over-allocate.

/// Why a byte string could not be decoded.
public enum DecodingError: Error, Equatable, Sendable {
    /// The input ended `needed` bytes before a field was complete.
    case truncated(field: String, needed: Int)
    /// A length prefix exceeded the field's bound.
    case tooLong(field: String, length: Int, limit: Int)
    /// A field held a value outside its domain (an unknown tag, a bad version, invalid UTF-8...).
    case invalidValue(field: String, reason: String)
    /// Bytes were left over after a complete value.
    case trailingBytes(count: Int)
}

/// Appends big-endian integers and length-prefixed fields to a byte array.
///
/// The buffer grows by hand: when it must grow, the old buffer is wiped once its bytes are copied,
/// so an encoding that holds key material (``finishSecret()``) leaves no stale copy in freed
/// memory however far it outgrows its initial capacity.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Makes room for `extra` more bytes, wiping the buffer it replaces.
    private mutating func reserve(_ extra: Int) {
        let needed = bytes.count + extra
        guard needed > bytes.capacity else { return }
        var grown = [UInt8]()
        grown.reserveCapacity(max(needed, bytes.capacity * 2))
        grown.append(contentsOf: bytes)
        SecretBytes.wipe(&bytes)
        bytes = grown
    }

    public mutating func write(_ value: UInt8) {
        reserve(1)
        bytes.append(value)
    }

    public mutating func write(_ value: UInt16) {
        reserve(2)
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func write(_ value: UInt32) {
        reserve(4)
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    public mutating func write(_ value: UInt64) {
        reserve(8)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }

    public mutating func write(_ value: Bool) { write(value ? UInt8(1) : UInt8(0)) }

    /// Raw bytes with no prefix (for fixed-length fields).
    public mutating func writeRaw(_ data: some Sequence<UInt8>) {
        let appended: Void? = data.withContiguousStorageIfAvailable { contiguous in
            reserve(contiguous.count)
            bytes.append(contentsOf: contiguous)
        }
        if appended == nil {
            for byte in data { write(byte) }
        }
    }

    /// Bytes prefixed by a u32 length.
    public mutating func writeVariable(_ data: [UInt8]) {
        write(UInt32(data.count))
        reserve(data.count)
        bytes.append(contentsOf: data)
    }

    /// UTF-8 text prefixed by a u32 length.
    public mutating func writeString(_ text: String) { writeVariable(Array(text.utf8)) }

    /// Appends the contents of a secret without an intermediate array.
    public mutating func writeSecret(_ secret: SecretBytes) {
        reserve(secret.count)
        secret.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// Overwrites (with `explicit_bzero`, which the compiler may not elide) and empties the buffer.
    public mutating func wipe() {
        SecretBytes.wipe(&bytes)
    }
}

/// Reads what ``ByteWriter`` wrote, with every length checked.
///
/// A reader made with ``init(secret:)`` reads straight from secret storage (a serialised session,
/// a record's key material): the whole encoding is never copied into an ordinary array, and
/// ``readSecret(_:_:)`` moves each key from one secret buffer to another.
public struct ByteReader: Sendable {
    private enum Source: Sendable {
        case plain([UInt8])
        case secret(SecretBytes)
    }

    private let source: Source
    private let count: Int
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        source = .plain(bytes)
        count = bytes.count
        offset = 0
    }

    /// Reads from `secret` in place, without exporting it.
    public init(secret: SecretBytes) {
        source = .secret(secret)
        count = secret.count
        offset = 0
    }

    public var remaining: Int { count - offset }
    public var isAtEnd: Bool { offset == count }

    /// Checks that `length` bytes remain, lends them to `body` and moves past them.
    private mutating func take<R>(_ length: Int, field: String, _ body: (UnsafeRawBufferPointer) -> R) throws(DecodingError) -> R {
        guard length >= 0, remaining >= length else {
            throw .truncated(field: field, needed: length - remaining)
        }
        let start = offset
        offset += length
        switch source {
        case .plain(let bytes):
            return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
        case .secret(let secret):
            return secret.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
        }
    }

    public mutating func readUInt8(_ field: String) throws(DecodingError) -> UInt8 {
        try take(1, field: field) { $0[0] }
    }

    public mutating func readUInt16(_ field: String) throws(DecodingError) -> UInt16 {
        try take(2, field: field) { $0.reduce(0) { $0 << 8 | UInt16($1) } }
    }

    public mutating func readUInt32(_ field: String) throws(DecodingError) -> UInt32 {
        try take(4, field: field) { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }

    public mutating func readUInt64(_ field: String) throws(DecodingError) -> UInt64 {
        try take(8, field: field) { $0.reduce(0) { $0 << 8 | UInt64($1) } }
    }

    public mutating func readInt64(_ field: String) throws(DecodingError) -> Int64 {
        Int64(bitPattern: try readUInt64(field))
    }

    public mutating func readBool(_ field: String) throws(DecodingError) -> Bool {
        switch try readUInt8(field) {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, reason: "boolean byte \(other)")
        }
    }

    /// Exactly `count` raw bytes.
    public mutating func readRaw(_ count: Int, _ field: String) throws(DecodingError) -> [UInt8] {
        try take(count, field: field) { Array($0) }
    }

    /// Exactly `count` bytes into secret storage, with no intermediate copy.
    public mutating func readSecret(_ count: Int, _ field: String) throws(DecodingError) -> SecretBytes {
        try take(count, field: field) { SecretBytes(copying: $0) }
    }

    /// A u32-length-prefixed byte string of at most `limit` bytes.
    public mutating func readVariable(_ field: String, limit: Int) throws(DecodingError) -> [UInt8] {
        let length = Int(try readUInt32(field))
        guard length <= limit else { throw .tooLong(field: field, length: length, limit: limit) }
        return try readRaw(length, field)
    }

    /// A u32-length-prefixed UTF-8 string of at most `limit` bytes; invalid UTF-8 is refused.
    public mutating func readString(_ field: String, limit: Int) throws(DecodingError) -> String {
        let raw = try readVariable(field, limit: limit)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw .invalidValue(field: field, reason: "invalid UTF-8")
        }
        return text
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws(DecodingError) {
        guard isAtEnd else { throw .trailingBytes(count: remaining) }
    }
}
