import Conversations
import Primitives

/// ``SessionStore`` in memory. Records are kept serialised, exactly as a database would keep
/// them, so a round-trip bug shows up here too.
public final class InMemorySessionStore: SessionStore {
    private let records = LockedValue([Username: SecretBytes]())

    public init() {}

    public func record(with peer: Username) throws(StoreError) -> SessionRecord? {
        guard let stored = records.withLock({ $0[peer] }) else { return nil }
        do { return try SessionRecord(deserializing: stored) } catch {
            throw .corrupt("session record with \(peer): \(error)")
        }
    }

    public func saveRecord(_ record: SessionRecord) throws(StoreError) {
        let serialized = record.serialized()
        records.withLock { $0[record.peer] = serialized }
    }

    public func removeRecord(with peer: Username) throws(StoreError) {
        records.withLock { _ = $0.removeValue(forKey: peer) }
    }

    /// Files `bytes` as the record with `peer`, unchecked: for tests of damaged and legacy records.
    public func storeRaw(_ bytes: SecretBytes, for peer: Username) {
        records.withLock { $0[peer] = bytes }
    }

    var snapshot: [Username: SecretBytes] {
        get { records.withLock { $0 } }
        set { records.withLock { $0 = newValue } }
    }
}
