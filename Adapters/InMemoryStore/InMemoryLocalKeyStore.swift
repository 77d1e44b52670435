import Prekeys
import Primitives

/// ``LocalKeyStore`` in memory, for tests and ephemeral clients.
public final class InMemoryLocalKeyStore: LocalKeyStore {
    struct State {
        var identity: Ed25519KeyPair?
        var signedPrekeys: [SignedPrekeyPair] = []
        var oneTimePrekeys: [UInt32: OneTimePrekeyPair] = [:]
        var kemPrekeys: [UInt32: KEMPrekeyPair] = [:]
    }

    private let state = LockedValue(State())

    public init() {}

    public func identityKeyPair() throws(StoreError) -> Ed25519KeyPair? { state.withLock { $0.identity } }

    public func setIdentityKeyPair(_ keyPair: Ed25519KeyPair) throws(StoreError) {
        state.withLock { $0.identity = keyPair }
    }

    public func signedPrekeyPairs() throws(StoreError) -> [SignedPrekeyPair] { state.withLock { $0.signedPrekeys } }

    public func addSignedPrekeyPair(_ pair: SignedPrekeyPair) throws(StoreError) {
        state.withLock { state in
            state.signedPrekeys.removeAll { $0.id == pair.id }
            state.signedPrekeys.append(pair)
        }
    }

    public func removeSignedPrekeyPair(id: UInt32) throws(StoreError) {
        state.withLock { $0.signedPrekeys.removeAll { $0.id == id } }
    }

    public func oneTimePrekeyPair(id: UInt32) throws(StoreError) -> OneTimePrekeyPair? { state.withLock { $0.oneTimePrekeys[id] } }

    public func addOneTimePrekeyPairs(_ pairs: [OneTimePrekeyPair]) throws(StoreError) {
        state.withLock { state in
            for pair in pairs { state.oneTimePrekeys[pair.id] = pair }
        }
    }

    public func removeOneTimePrekeyPair(id: UInt32) throws(StoreError) {
        state.withLock { _ = $0.oneTimePrekeys.removeValue(forKey: id) }
    }

    public func kemPrekeyPairs() throws(StoreError) -> [KEMPrekeyPair] {
        state.withLock { $0.kemPrekeys.values.sorted { $0.id < $1.id } }
    }

    public func kemPrekeyPair(id: UInt32) throws(StoreError) -> KEMPrekeyPair? { state.withLock { $0.kemPrekeys[id] } }

    public func addKEMPrekeyPairs(_ pairs: [KEMPrekeyPair]) throws(StoreError) {
        state.withLock { state in
            for pair in pairs { state.kemPrekeys[pair.id] = pair }
        }
    }

    public func removeKEMPrekeyPair(id: UInt32) throws(StoreError) {
        state.withLock { _ = $0.kemPrekeys.removeValue(forKey: id) }
    }

    var snapshot: State {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
