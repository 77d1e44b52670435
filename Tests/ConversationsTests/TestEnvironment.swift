import Conversations
import Envelope
import Foundation
import InMemoryStore
import MLKEMCrypto
import Prekeys
import Primitives
import SodiumCrypto

/// One place that wires the domain to in-memory adapters, the libsodium crypto adapter, a seeded
/// random source and a manual clock, so every test is deterministic.
struct TestEnvironment {
    let crypto: any CryptoProvider
    let kem: any KEMProvider = SwiftCryptoMLKEM()
    let random: SeededRandomSource

    init(seed: UInt64 = 1) {
        do { crypto = try SodiumCryptoProvider() } catch { preconditionFailure("libsodium unavailable: \(error)") }
        random = SeededRandomSource(seed: seed)
    }

    var cipher: SessionCipher { SessionCipher(crypto: crypto, kem: kem, random: random) }

    /// A signed ML-KEM prekey pair.
    func makeKEMPrekey(id: UInt32, lastResort: Bool, identity: Ed25519KeyPair) throws -> KEMPrekeyPair {
        let pair = try kem.generateMLKEMKeyPair(using: random)
        let signature = try crypto.sign(KEMPrekey.signedMessage(id: id, publicKey: pair.publicKey), with: identity.secretKey)
        return KEMPrekeyPair(id: id, keyPair: pair, signature: signature, isLastResort: lastResort, createdAt: Timestamp(millisecondsSinceEpoch: 0))
    }

    /// A user with an identity, a signed prekey, `oneTimePrekeys` one-time prekeys, a last-resort
    /// ML-KEM prekey and `oneTimeKEMPrekeys` one-time ones, all in an in-memory key store; plus
    /// the server-side view of their published prekeys.
    func makeUser(_ name: String, oneTimePrekeys: Int = 3, oneTimeKEMPrekeys: Int = 1) throws -> TestUser {
        let identity = try crypto.generateEd25519KeyPair(using: random)
        let keys = InMemoryLocalKeyStore()
        try keys.setIdentityKeyPair(identity)
        let spkPair = try crypto.generateX25519KeyPair(using: random)
        let spkID = random.uint32()
        let signature = try crypto.sign(SignedPrekey.signedMessage(id: spkID, publicKey: spkPair.publicKey), with: identity.secretKey)
        let signed = SignedPrekeyPair(id: spkID, keyPair: spkPair, signature: signature, createdAt: Timestamp(millisecondsSinceEpoch: 0))
        try keys.addSignedPrekeyPair(signed)
        var published: [OneTimePrekey] = []
        for index in 0..<oneTimePrekeys {
            let pair = OneTimePrekeyPair(id: UInt32(100 + index), keyPair: try crypto.generateX25519KeyPair(using: random))
            try keys.addOneTimePrekeyPairs([pair])
            published.append(pair.publicPrekey)
        }
        let lastResort = try makeKEMPrekey(id: 1, lastResort: true, identity: identity)
        var kemOneTime: [KEMPrekey] = []
        for index in 0..<oneTimeKEMPrekeys {
            let pair = try makeKEMPrekey(id: UInt32(200 + index), lastResort: false, identity: identity)
            kemOneTime.append(pair.publicPrekey)
            try keys.addKEMPrekeyPairs([pair])
        }
        try keys.addKEMPrekeyPairs([lastResort])
        return TestUser(
            name: try Username(name), identity: identity, keys: keys, signedPrekey: signed.publicPrekey,
            server: ServerPrekeys(published, kemOneTime: kemOneTime, kemLastResort: lastResort.publicPrekey))
    }
}

/// A test user and the prekeys "the server" holds for them.
struct TestUser {
    let name: Username
    let identity: Ed25519KeyPair
    let keys: InMemoryLocalKeyStore
    let signedPrekey: SignedPrekey
    let server: ServerPrekeys

    /// What a peer fetches: consumes one one-time prekey and one one-time ML-KEM prekey (or
    /// hands out the last-resort one), like the server does.
    func fetchBundle() -> UnverifiedPrekeyBundle {
        UnverifiedPrekeyBundle(identityKey: identity.publicKey, signedPrekey: signedPrekey, oneTimePrekey: server.take(), kemPrekey: server.takeKEM())
    }
}

/// The server's pool of one user's one-time prekeys, handing each out once.
final class ServerPrekeys: Sendable {
    private let pool: LockedValue<[OneTimePrekey]>
    private let kemPool: LockedValue<[KEMPrekey]>
    private let kemLastResort: KEMPrekey?
    init(_ prekeys: [OneTimePrekey], kemOneTime: [KEMPrekey] = [], kemLastResort: KEMPrekey? = nil) {
        pool = LockedValue(prekeys)
        kemPool = LockedValue(kemOneTime)
        self.kemLastResort = kemLastResort
    }
    func take() -> OneTimePrekey? { pool.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
    func takeKEM() -> BundledKEMPrekey? {
        if let oneTime = kemPool.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { return BundledKEMPrekey(oneTime, isLastResort: false) }
        return kemLastResort.map { BundledKEMPrekey($0, isLastResort: true) }
    }
    var count: Int { pool.withLock { $0.count } }
}

/// A deterministic random source (SplitMix64). Not for production: tests only.
final class SeededRandomSource: RandomSource {
    private let state: LockedValue<UInt64>
    init(seed: UInt64) { state = LockedValue(seed) }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        state.withLock { state in
            for index in buffer.indices {
                state &+= 0x9e37_79b9_7f4a_7c15
                var z = state
                z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
                z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
                buffer[index] = UInt8(truncatingIfNeeded: z ^ (z >> 31))
            }
        }
    }
}

/// A random source that replays a script of 32-byte secrets (for known-answer vectors), then a
/// fixed filler once the script runs out.
final class ScriptedRandomSource: RandomSource {
    private let script: LockedValue<[[UInt8]]>
    init(_ script: [[UInt8]]) { self.script = LockedValue(script) }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        let next = script.withLock { $0.isEmpty ? [UInt8](repeating: 0x55, count: buffer.count) : $0.removeFirst() }
        precondition(next.count == buffer.count, "scripted random source asked for \(buffer.count) bytes")
        buffer.copyBytes(from: next)
    }
}

/// Loads a JSON vector file from `Tests/Vectors` (one generic loader for every vector type).
struct VectorFile<Case: Decodable>: Decodable { let cases: [Case] }

func loadVectors<Case: Decodable>(_ name: String, as type: Case.Type) throws -> [Case] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Vectors").appendingPathComponent(name)
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(VectorFile<Case>.self, from: Data(contentsOf: url)).cases
}

func hex(_ text: String) -> [UInt8] { Hex.decode(text) ?? [] }

func text(_ value: String, id: UInt8 = 0) -> MessageContent {
    // A fixed id keeps tests readable; tests that need distinct ids pass one.
    MessageContent(id: fixture { try MessageID(bytes: [UInt8](repeating: id, count: 16)) }, sentAt: Timestamp(millisecondsSinceEpoch: 1000), body: .text(value))
}

/// Builds a constant test fixture; an invalid one is a bug in the test itself.
func fixture<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { preconditionFailure("invalid test fixture: \(error)") }
}

extension SessionCipher {
    /// The one-session call most tests here make: decrypts within a record holding only
    /// `existing` (if any), reading the responder's prekeys from `keys` as the client does.
    func decrypt(
        _ envelope: CiphertextEnvelope, from sender: Username, existing: Session?, localUsername: Username, localIdentity: Ed25519KeyPair,
        keys: any LocalKeyStore
    ) throws -> Inbound {
        var prekeys: ResponderPrekeys?
        if let prelude = envelope.prelude {
            prekeys = ResponderPrekeys(
                signedPrekeys: try keys.signedPrekeyPairs(),
                oneTimePrekey: try prelude.oneTimePrekeyID.flatMap { id throws(StoreError) in try keys.oneTimePrekeyPair(id: id) },
                kemPrekey: try prelude.kem.flatMap { kem throws(StoreError) in try keys.kemPrekeyPair(id: kem.prekeyID) })
        }
        return try decrypt(
            envelope, from: sender, record: existing.map { SessionRecord(peer: sender, current: $0) }, localUsername: localUsername,
            localIdentity: localIdentity, prekeys: prekeys)
    }
}
