import ClientCore
import Primitives
import Synchronization

/// ``ClientSettingsStore`` in memory.
public final class InMemoryClientSettingsStore: ClientSettingsStore {
    private let values = Mutex([String: [UInt8]]())

    public init() {}

    public func value(forKey key: String) throws(StoreError) -> [UInt8]? { values.withLock { $0[key] } }

    public func setValue(_ value: [UInt8], forKey key: String) throws(StoreError) {
        values.withLock { $0[key] = value }
    }

    var snapshot: [String: [UInt8]] {
        get { values.withLock { $0 } }
        set { values.withLock { $0 = newValue } }
    }
}
