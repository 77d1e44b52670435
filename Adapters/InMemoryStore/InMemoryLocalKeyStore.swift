import Prekeys
import Primitives
import Synchronization

/// ``LocalKeyStore`` in memory, for tests and ephemeral clients.
public final class InMemoryLocalKeyStore: LocalKeyStore {
    private struct State {
        var identity: Ed25519KeyPair?
        var signedPrekeys: [SignedPrekeyPair] = []
        var oneTimePrekeys: [UInt32: OneTimePrekeyPair] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func identityKeyPair() throws -> Ed25519KeyPair? { state.withLock { $0.identity } }

    public func setIdentityKeyPair(_ keyPair: Ed25519KeyPair) throws {
        state.withLock { $0.identity = keyPair }
    }

    public func signedPrekeyPairs() throws -> [SignedPrekeyPair] { state.withLock { $0.signedPrekeys } }

    public func addSignedPrekeyPair(_ pair: SignedPrekeyPair) throws {
        state.withLock { state in
            state.signedPrekeys.removeAll { $0.id == pair.id }
            state.signedPrekeys.append(pair)
        }
    }

    public func removeSignedPrekeyPair(id: UInt32) throws {
        state.withLock { $0.signedPrekeys.removeAll { $0.id == id } }
    }

    public func oneTimePrekeyPair(id: UInt32) throws -> OneTimePrekeyPair? { state.withLock { $0.oneTimePrekeys[id] } }

    public func addOneTimePrekeyPairs(_ pairs: [OneTimePrekeyPair]) throws {
        state.withLock { state in
            for pair in pairs { state.oneTimePrekeys[pair.id] = pair }
        }
    }

    public func removeOneTimePrekeyPair(id: UInt32) throws {
        state.withLock { _ = $0.oneTimePrekeys.removeValue(forKey: id) }
    }
}
