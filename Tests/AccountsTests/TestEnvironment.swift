import Accounts
import InMemoryStore
import Primitives
import SodiumCrypto

/// A clock that moves only when a test says so.
final class ManualClock: Clock {
    private let current: LockedValue<Timestamp>

    init(_ start: Timestamp = Timestamp(secondsSinceEpoch: 1_700_000_000)) {
        current = LockedValue(start)
    }

    func now() -> Timestamp { current.withLock { $0 } }

    func advance(by duration: Duration) {
        current.withLock { $0 = $0.adding(duration) }
    }
}

/// Wraps the real Argon2id hasher and counts verifications, so tests can see whether a login
/// checked a password (and against what) without timing anything.
final class CountingHasher: PasswordHasher {
    /// One call that reached the hasher: how long the password was and which hash it was checked
    /// against (never the password itself).
    struct Call: Equatable {
        let passwordLength: Int
        let hash: String
    }

    let inner: Argon2idPasswordHasher
    private let verifications = LockedValue([Call]())
    private let hashings = LockedValue([Int]())

    init(inner: Argon2idPasswordHasher) { self.inner = inner }

    var verifyCount: Int { verifications.withLock { $0.count } }
    /// Every `verify` call, in order.
    var verifyCalls: [Call] { verifications.withLock { $0 } }
    /// The password length of every `hash` call, in order.
    var hashedLengths: [Int] { hashings.withLock { $0 } }
    var hashCount: Int { hashings.withLock { $0.count } }

    func hash(_ password: SecretBytes) throws(CryptoError) -> String {
        hashings.withLock { $0.append(password.count) }
        return try inner.hash(password)
    }

    func verify(_ password: SecretBytes, against hash: String) -> Bool {
        verifications.withLock { $0.append(Call(passwordLength: password.count, hash: hash)) }
        return inner.verify(password, against: hash)
    }

    func needsRehash(_ hash: String) -> Bool { inner.needsRehash(hash) }
}

let crypto: SodiumCryptoProvider = {
    do { return try SodiumCryptoProvider() } catch { preconditionFailure("libsodium unavailable: \(error)") }
}()

/// One account service over in-memory adapters, a manual clock and the cheapest Argon2id cost.
struct TestEnvironment {
    let clock = ManualClock()
    let store = InMemoryAccountStore()
    let hasher: CountingHasher
    let service: AccountService

    init(cost: Argon2Cost = .minimum) throws {
        hasher = CountingHasher(inner: Argon2idPasswordHasher(crypto: crypto, cost: cost))
        service = try AccountService(store: store, hasher: hasher, clock: clock)
    }

    /// Registers `name` with `password` and an identity key fixed per name (``testIdentityKey(for:)``).
    /// The service stores the identity signature without checking it (the server verifies it
    /// before), so any 64 bytes do here.
    @discardableResult
    func register(_ name: String = "alice", password: String = "correct horse battery", identity: Ed25519PublicKey? = nil) throws -> AccountRecord {
        try service.register(
            username: name, password: secret(password), identityKey: identity ?? testIdentityKey(for: name),
            identitySignature: unverifiedSignature)
    }

    func record(_ name: String = "alice") throws -> AccountRecord? {
        try store.find(Username(name))
    }
}

/// alice's identity key in these tests.
let identityKey = testIdentityKey(for: "alice")

/// A distinct identity key per (case-folded) name: one key may speak for one account only.
func testIdentityKey(for name: String) -> Ed25519PublicKey {
    let bytes = Array(name.lowercased().utf8.prefix(31))
    do { return try Ed25519PublicKey(bytes: bytes + [UInt8](repeating: 7, count: 32 - bytes.count)) } catch { preconditionFailure("\(error)") }
}

let unverifiedSignature: Ed25519Signature = {
    do { return try Ed25519Signature(bytes: [UInt8](repeating: 9, count: 64)) } catch { preconditionFailure("\(error)") }
}()

func secret(_ text: String) -> SecretBytes { SecretBytes(copying: text.utf8) }
