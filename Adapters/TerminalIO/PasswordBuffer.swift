#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A password being typed, as UTF-8 bytes in one buffer allocated once at its largest size
/// (``TerminalLimits/maxLineBytes``), so that typing never reallocates it and leaves a copy behind,
/// and wiped when it is cleared or released.
///
/// The rejected alternative, editing the password as a `String` (as ordinary lines are), leaves
/// its bytes in buffers nothing can wipe. Backspace removes the last Unicode scalar typed.
final class PasswordBuffer: @unchecked Sendable, Equatable {
    // Owned by one reader at a time: the editor while typing, then the caller it is handed to.
    private let storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(capacity: Int = TerminalLimits.maxLineBytes) {
        storage = .allocate(byteCount: max(capacity, 1), alignment: 1)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        clear()
        storage.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// Appends `bytes`; returns false (and changes nothing) when they do not fit.
    @discardableResult
    func append(_ bytes: some Collection<UInt8>) -> Bool {
        guard count + bytes.count <= storage.count else { return false }
        for byte in bytes {
            storage[count] = byte
            count += 1
        }
        return true
    }

    /// Removes the last UTF-8 encoded scalar (its continuation bytes, then its first byte).
    func removeLastScalar() {
        while count > 0 {
            count -= 1
            let byte = storage[count]
            storage[count] = 0
            if byte & 0xC0 != 0x80 { return }
        }
    }

    /// Drops a trailing carriage return (a line typed on a terminal in CRLF mode, or a CRLF file).
    func dropTrailingCarriageReturn() {
        if count > 0, storage[count - 1] == UInt8(ascii: "\r") {
            count -= 1
            storage[count] = 0
        }
    }

    /// Wipes and empties the buffer.
    func clear() {
        if let base = storage.baseAddress { explicit_bzero(base, storage.count) }
        count = 0
    }

    /// Lends the password's bytes to `body`; do not let the pointer escape.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    static func == (lhs: PasswordBuffer, rhs: PasswordBuffer) -> Bool { lhs === rhs }
}
