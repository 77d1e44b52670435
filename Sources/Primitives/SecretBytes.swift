#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Secret key material: bytes that are zeroed when released, compared in constant time and never
/// printed.
///
/// Modelled on swift-crypto's `SecureBytes`. The bytes live in one heap object, a `ManagedBuffer`
/// whose header is the length and whose tail holds the bytes, so a secret costs one allocation;
/// they are reachable only through ``withUnsafeBytes(_:)``. When the last copy of a value is
/// released the bytes are wiped with `explicit_bzero` (on glibc this is exactly what libsodium's
/// `sodium_memzero` calls, and the compiler may not elide it). We wipe here rather than through
/// libsodium so that this shared core module, and every domain module above it, stays free of any
/// C library.
///
/// `SecretBytes` is deliberately not `Codable`, and its `description`, `debugDescription` and
/// reflection (`dump`, `Mirror`) show only the length.
// `@unchecked`: the storage is a `ManagedBuffer`, which the standard library marks as never
// `Sendable`; its bytes are written only while a value is being made, before it can be shared,
// and are immutable afterwards.
public struct SecretBytes: @unchecked Sendable {
    @usableFromInline
    let storage: Storage

    /// Copies `bytes` into a new secret buffer. The caller remains responsible for its own copy.
    ///
    /// Contiguous input (an array, a slice, a buffer) is copied straight into secret storage. Any
    /// other sequence has to be gathered first; that intermediate array is wiped before it is freed.
    public init(copying bytes: some Sequence<UInt8>) {
        if let copied = bytes.withContiguousStorageIfAvailable({ Storage.make(copying: UnsafeRawBufferPointer($0)) }) {
            storage = copied
            return
        }
        var gathered = Array(bytes)
        storage = gathered.withUnsafeBytes { Storage.make(copying: $0) }
        gathered.withUnsafeMutableBytes { Storage.wipe($0.baseAddress, count: $0.count) }
    }

    /// Copies the bytes `source` points to into a new secret buffer.
    public init(copying source: UnsafeRawBufferPointer) {
        storage = Storage.make(copying: source)
    }

    /// Creates a buffer of `count` bytes and lets `initializer` fill it in place, so that the
    /// secret never exists in an ordinary array.
    @inlinable
    public init<E: Error>(
        count: Int,
        initializingWith initializer: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        storage = Storage.make(count: count)
        try storage.withUnsafeMutablePointerToElements { (bytes) throws(E) in
            try initializer(UnsafeMutableRawBufferPointer(start: bytes, count: count))
        }
    }

    /// A buffer of `count` zero bytes.
    public init(zeroes count: Int) {
        storage = Storage.make(count: count)
    }

    /// The number of bytes.
    @inlinable
    public var count: Int { storage.count }

    /// Calls `body` with a read-only view of the secret bytes. Do not let the pointer escape.
    @inlinable
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        let count = storage.count
        return try storage.withUnsafeMutablePointerToElements { (bytes) throws(E) -> R in
            try body(UnsafeRawBufferPointer(start: bytes, count: count))
        }
    }

    /// The bytes in `range`, as a new secret.
    public func slice(_ range: Range<Int>) -> SecretBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice out of bounds")
        return withUnsafeBytes { whole in
            SecretBytes(count: range.count) { target in
                if !range.isEmpty, let base = whole.baseAddress {
                    target.baseAddress!.copyMemory(from: base + range.lowerBound, byteCount: range.count)
                }
            }
        }
    }

    /// Concatenates secrets without passing through an ordinary array.
    public static func concatenating(_ parts: [SecretBytes]) -> SecretBytes {
        let total = parts.reduce(0) { $0 + $1.count }
        return SecretBytes(count: total) { target in
            var offset = 0
            for part in parts {
                part.withUnsafeBytes { source in
                    if let base = source.baseAddress, !source.isEmpty {
                        (target.baseAddress! + offset).copyMemory(from: base, byteCount: source.count)
                    }
                }
                offset += part.count
            }
        }
    }

    /// Exports the bytes into an ordinary array. Only for handing a secret to a sealed container
    /// (an encrypted database record); the caller owns the copy.
    public func unsafeExportBytes() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// The heap object: the length as header, the bytes in its tail. A class so that copies of
    /// `SecretBytes` share one buffer and the wipe happens exactly once, when the last copy goes
    /// away.
    @usableFromInline
    final class Storage: ManagedBuffer<Int, UInt8> {
        /// `count` zero bytes (at least one byte is allocated, so the pointer is never null).
        @usableFromInline
        static func make(count: Int) -> Storage {
            precondition(count >= 0, "negative secret length")
            let buffer = Storage.create(minimumCapacity: max(count, 1)) { _ in count }
            let storage = unsafeDowncast(buffer, to: Storage.self)
            storage.withUnsafeMutablePointerToElements { $0.initialize(repeating: 0, count: max(count, 1)) }
            return storage
        }

        static func make(copying source: UnsafeRawBufferPointer) -> Storage {
            let storage = make(count: source.count)
            if let base = source.baseAddress, !source.isEmpty {
                storage.withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0).copyMemory(from: base, byteCount: source.count) }
            }
            return storage
        }

        /// Read through the header pointer: `ManagedBuffer.header` is a class `var`, so reading it
        /// directly costs a dynamic exclusivity check on every access.
        @usableFromInline
        var count: Int { withUnsafeMutablePointerToHeader { $0.pointee } }

        deinit {
            let count = max(self.count, 1)
            withUnsafeMutablePointerToElements { Self.wipe(UnsafeMutableRawPointer($0), count: count) }
        }

        static func wipe(_ pointer: UnsafeMutableRawPointer?, count: Int) {
            guard let pointer, count > 0 else { return }
            #if canImport(Darwin)
            _ = memset_s(pointer, count, 0, count)
            #else
            explicit_bzero(pointer, count)
            #endif
        }
    }
}

extension SecretBytes: Equatable {
    /// Constant-time comparison: the time taken depends on the lengths only, never on where the
    /// contents differ.
    public static func == (lhs: SecretBytes, rhs: SecretBytes) -> Bool {
        lhs.withUnsafeBytes { left in
            rhs.withUnsafeBytes { right in
                ConstantTime.equal(left, right)
            }
        }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SecretBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension ByteWriter {
    /// Moves what was written into secret storage and wipes the writer's buffer, for encodings
    /// that contain key material (e.g. serialised session state).
    public mutating func finishSecret() -> SecretBytes {
        let secret = SecretBytes(copying: bytes)
        wipe()
        return secret
    }
}

extension SecretBytes {
    /// Wipes an ordinary array that held secret bytes (a copy that could not be avoided, such as
    /// a database row's column) and empties it.
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { Storage.wipe($0.baseAddress, count: $0.count) }
        bytes.removeAll()
    }
}
