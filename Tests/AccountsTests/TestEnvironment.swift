import Accounts
import InMemoryStore
import Primitives
import SodiumCrypto
import Synchronization

/// A clock that moves only when a test says so.
final class ManualClock: Clock {
    private let current: Mutex<Timestamp>

    init(_ start: Timestamp = Timestamp(secondsSinceEpoch: 1_700_000_000)) {
        current = Mutex(start)
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
    private let verifications = Mutex([Call]())
    private let hashings = Mutex([Int]())

    init(inner: Argon2idPasswordHasher) { self.inner = inner }

    var verifyCount: Int { verifications.withLock { $0.count } }
    /// Every `verify` call, in order.
    var verifyCalls: [Call] { verifications.withLock { $0 } }
    /// The password length of every `hash` call, in order.
    var hashedLengths: [Int] { hashings.withLock { $0 } }

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

    /// Registers `name` with `password` and a fixed identity key.
    @discardableResult
    func register(_ name: String = "alice", password: String = "correct horse battery") throws -> AccountRecord {
        try service.register(username: name, password: secret(password), identityKey: identityKey)
    }

    func record(_ name: String = "alice") throws -> AccountRecord? {
        try store.find(Username(name))
    }
}

let identityKey: Ed25519PublicKey = {
    do { return try Ed25519PublicKey(bytes: [UInt8](repeating: 7, count: 32)) } catch { preconditionFailure("\(error)") }
}()

func secret(_ text: String) -> SecretBytes { SecretBytes(copying: text.utf8) }
