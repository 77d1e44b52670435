import Prekeys
import Primitives
import Testing

/// Makes a fresh, empty ``LocalKeyStore``.
public typealias LocalKeyStoreFactory = @Sendable () throws -> any LocalKeyStore

/// The behaviour every ``LocalKeyStore`` adapter must have: secrets come back bit for bit, and an
/// erased one-time prekey is gone.
public enum LocalKeyStoreContract {
    public static let checks: [ContractCheck<LocalKeyStoreFactory>] = [
        ContractCheck("a new store holds no identity and no prekeys") { make in
            let store = try make()
            #expect(try store.identityKeyPair() == nil)
            #expect(try store.signedPrekeyPairs().isEmpty)
            #expect(try store.oneTimePrekeyPair(id: 1) == nil)
        },
        ContractCheck("the identity key pair comes back with its secret, and a later one replaces it") { make in
            let store = try make()
            let fixture = try ClientFixture(seed: 11)
            let first = try fixture.identity()
            try store.setIdentityKeyPair(first)
            #expect(try store.identityKeyPair() == first)
            let second = try fixture.identity()
            try store.setIdentityKeyPair(second)
            #expect(try store.identityKeyPair() == second)
        },
        ContractCheck("signed prekeys are added, replaced by id and removed; every one held is listed") { make in
            let store = try make()
            let fixture = try ClientFixture(seed: 12)
            let identity = try fixture.identity()
            let (one, two) = (try fixture.signedPrekey(id: 1, signedBy: identity, createdAt: 1000), try fixture.signedPrekey(id: 2, signedBy: identity, createdAt: 2000))
            try store.addSignedPrekeyPair(one)
            try store.addSignedPrekeyPair(two)
            #expect(try byID(store.signedPrekeyPairs()) == [1: one, 2: two])
            // Same id again: the new pair replaces the old, it is not listed twice.
            let replacement = try fixture.signedPrekey(id: 1, signedBy: identity, createdAt: 3000)
            try store.addSignedPrekeyPair(replacement)
            #expect(try store.signedPrekeyPairs().count == 2)
            #expect(try byID(store.signedPrekeyPairs()) == [1: replacement, 2: two])
            try store.removeSignedPrekeyPair(id: 1)
            #expect(try store.signedPrekeyPairs() == [two])
            try store.removeSignedPrekeyPair(id: 99)
            #expect(try store.signedPrekeyPairs() == [two])
        },
        ContractCheck("one-time prekeys are found by id until erased, and only that one is erased") { make in
            let store = try make()
            let fixture = try ClientFixture(seed: 13)
            let pairs = try (1...5).map { try fixture.oneTimePrekey(id: UInt32($0)) }
            try store.addOneTimePrekeyPairs(pairs)
            for pair in pairs { #expect(try store.oneTimePrekeyPair(id: pair.id) == pair) }
            #expect(try store.oneTimePrekeyPair(id: 6) == nil)
            try store.removeOneTimePrekeyPair(id: 3)
            #expect(try store.oneTimePrekeyPair(id: 3) == nil)
            #expect(try store.oneTimePrekeyPair(id: 2) == pairs[1])
            #expect(try store.oneTimePrekeyPair(id: 4) == pairs[3])
            // Erasing twice, or an id never added, is not an error.
            try store.removeOneTimePrekeyPair(id: 3)
            try store.removeOneTimePrekeyPair(id: 42)
        },
        ContractCheck("adding a one-time prekey id again replaces its key; an empty batch changes nothing") { make in
            let store = try make()
            let fixture = try ClientFixture(seed: 14)
            try store.addOneTimePrekeyPairs([try fixture.oneTimePrekey(id: 7)])
            let newer = try fixture.oneTimePrekey(id: 7)
            try store.addOneTimePrekeyPairs([newer])
            try store.addOneTimePrekeyPairs([])
            #expect(try store.oneTimePrekeyPair(id: 7) == newer)
        },
        ContractCheck("prekeys and identity are independent of each other") { make in
            let store = try make()
            let fixture = try ClientFixture(seed: 15)
            let identity = try fixture.identity()
            let signed = try fixture.signedPrekey(id: 5, signedBy: identity)
            let oneTime = try fixture.oneTimePrekey(id: 5)
            try store.addSignedPrekeyPair(signed)
            try store.addOneTimePrekeyPairs([oneTime])
            #expect(try store.identityKeyPair() == nil)
            try store.removeOneTimePrekeyPair(id: 5)
            #expect(try store.signedPrekeyPairs() == [signed])
            try store.removeSignedPrekeyPair(id: 5)
            try store.addOneTimePrekeyPairs([oneTime])
            #expect(try store.oneTimePrekeyPair(id: 5) == oneTime)
        },
    ]

    /// The port does not fix the listing order, so the contract compares by id.
    private static func byID(_ pairs: [SignedPrekeyPair]) -> [UInt32: SignedPrekeyPair] {
        Dictionary(pairs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }
}
