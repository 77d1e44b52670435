import ClientCore
import Primitives

/// ``ClientSettingsStore`` in memory.
public final class InMemoryClientSettingsStore: ClientSettingsStore {
    /// Keyed by the key's UTF-8 bytes, as the SQLite adapter's keyed hash is: Swift's `String`
    /// equality would merge canonically equivalent keys ("é" and "e" + U+0301) that SQLite keeps apart.
    private let values = LockedValue([[UInt8]: [UInt8]]())

    public init() {}

    public func value(forKey key: String) throws(StoreError) -> [UInt8]? { values.withLock { $0[Array(key.utf8)] } }

    public func setValue(_ value: [UInt8], forKey key: String) throws(StoreError) {
        values.withLock { $0[Array(key.utf8)] = value }
    }

    var snapshot: [[UInt8]: [UInt8]] {
        get { values.withLock { $0 } }
        set { values.withLock { $0 = newValue } }
    }
}
