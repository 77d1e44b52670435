import Conversations
import Envelope
import Foundation
import InMemoryStore
import Prekeys
import Primitives
import SodiumCrypto

/// One place that wires the domain to in-memory adapters, the libsodium crypto adapter, a seeded
/// random source and a manual clock, so every test is deterministic.
struct TestEnvironment {
    let crypto: any CryptoProvider
    let random: SeededRandomSource

    init(seed: UInt64 = 1) {
        do { crypto = try SodiumCryptoProvider() } catch { preconditionFailure("libsodium unavailable: \(error)") }
        random = SeededRandomSource(seed: seed)
    }

    var cipher: SessionCipher { SessionCipher(crypto: crypto, random: random) }

    /// A user with an identity, a signed prekey and `oneTimePrekeys` one-time prekeys, all in an
    /// in-memory key store; plus the server-side view of their published prekeys.
    func makeUser(_ name: String, oneTimePrekeys: Int = 3) throws -> TestUser {
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
        return TestUser(name: try Username(name), identity: identity, keys: keys, signedPrekey: signed.publicPrekey, server: ServerPrekeys(published))
    }
}

/// A test user and the prekeys "the server" holds for them.
struct TestUser {
    let name: Username
    let identity: Ed25519KeyPair
    let keys: InMemoryLocalKeyStore
    let signedPrekey: SignedPrekey
    let server: ServerPrekeys

    /// What a peer fetches: consumes one one-time prekey, like the server does.
    func fetchBundle() -> UnverifiedPrekeyBundle {
        UnverifiedPrekeyBundle(identityKey: identity.publicKey, signedPrekey: signedPrekey, oneTimePrekey: server.take())
    }
}

/// The server's pool of one user's one-time prekeys, handing each out once.
final class ServerPrekeys: Sendable {
    private let pool: LockedValue<[OneTimePrekey]>
    init(_ prekeys: [OneTimePrekey]) { pool = LockedValue(prekeys) }
    func take() -> OneTimePrekey? { pool.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
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
                oneTimePrekey: try prelude.oneTimePrekeyID.flatMap { id throws(StoreError) in try keys.oneTimePrekeyPair(id: id) })
        }
        return try decrypt(
            envelope, from: sender, record: existing.map { SessionRecord(peer: sender, current: $0) }, localUsername: localUsername,
            localIdentity: localIdentity, prekeys: prekeys)
    }
}
