import Primitives

/// Registration, login and deletion of accounts: the Accounts domain's decisions, driven through
/// its ports (``AccountStore``, ``PasswordHasher``, ``Clock``).
///
/// It does no I/O of its own; every effect is a store call, and every time it reads comes from the
/// clock port so tests can move time by hand.
///
/// Login is built so that it cannot be used as an oracle: an unknown or malformed username, and a
/// wrong password, end in the same ``AccountError/invalidCredentials`` after the same amount of
/// hashing (an unknown name is verified against a dummy hash), and a locked name and an unknown
/// one both answer ``AccountError/throttled(retryAfter:)`` without hashing.
public struct AccountService: Sendable {
    private let store: any AccountStore
    private let hasher: any PasswordHasher
    private let clock: any Clock
    private let throttle: LoginThrottlePolicy
    /// Verified against when the username does not exist, so that such a login costs one Argon2id
    /// verification like any other. Its password is public and irrelevant: the result is ignored.
    private let dummyHash: String

    /// - Throws: ``AccountError/hashingFailed(_:)`` when the dummy hash cannot be made (the hasher's
    ///   cost is not runnable on this machine).
    /// - Parameter throttle: the login throttle's state; copies of this service share it.
    public init(
        store: any AccountStore, hasher: any PasswordHasher, clock: any Clock, throttle: LoginThrottlePolicy = LoginThrottlePolicy()
    ) throws(AccountError) {
        self.store = store
        self.throttle = throttle
        self.hasher = hasher
        self.clock = clock
        do {
            dummyHash = try hasher.hash(SecretBytes(copying: "parley dummy password".utf8))
        } catch {
            throw .hashingFailed(error)
        }
    }

    // MARK: Registration

    /// Registers a new account and returns the stored record.
    ///
    /// The record is the decision; the store applies it with one atomic create. The caller has
    /// verified `identitySignature` (it binds `identityKey` to the username); it is stored so that
    /// the key can be handed out with it.
    /// - Throws: ``AccountError/invalidUsername(_:)``, ``AccountError/weakPassword(_:)``,
    ///   ``AccountError/usernameTaken(_:)``, ``AccountError/identityKeyTaken``, or a server fault
    ///   (``AccountError/storeFailure(_:)``, ``AccountError/hashingFailed(_:)``).
    public func register(
        username raw: String, password: SecretBytes, identityKey: Ed25519PublicKey, identitySignature: Ed25519Signature
    ) throws(AccountError) -> AccountRecord {
        let username: Username
        do { username = try Username(raw) } catch { throw .invalidUsername(error) }
        if let rejection = PasswordPolicy.rejection(for: password, username: username) {
            throw .weakPassword(rejection)
        }
        // Checked before hashing so that a taken name does not cost an Argon2id run; the create
        // below still decides any race.
        if try storeCall({ try store.find(username) }) != nil { throw .usernameTaken(username) }
        if try storeCall({ try store.username(withIdentityKey: identityKey) }) != nil { throw .identityKeyTaken }
        let passwordHash: String
        do { passwordHash = try hasher.hash(password) } catch { throw .hashingFailed(error) }
        let record = AccountRecord(
            username: username, passwordHash: passwordHash, identityKey: identityKey, identitySignature: identitySignature,
            createdAt: clock.now())
        do {
            try store.create(record)
        } catch StoreError.alreadyExists {
            // A concurrent registration won: say which of the two it took.
            if try storeCall({ try store.find(username) }) != nil { throw .usernameTaken(username) }
            throw .identityKeyTaken
        } catch {
            throw .storeFailure(Self.storeError(error))
        }
        return record
    }

    // MARK: Login

    /// Checks a username and password, applying the login throttle (see ``LoginThrottlePolicy``).
    ///
    /// The throttle decides first, from the name as given and `source` alone, before the account
    /// is looked up: a locked name and an unknown one answer alike. An admitted attempt is counted
    /// as a failure *before* the password is checked and refunded after a success; counting
    /// afterwards would let an attacker run any number of guesses in parallel before the first
    /// failure lands.
    /// - Parameter source: where the attempt comes from (the transport's peer address); attempts
    ///   that give none share the ``LoginSource/unknown`` bucket.
    /// - Throws: ``AccountError/invalidCredentials`` (unknown name or wrong password, alike),
    ///   ``AccountError/throttled(retryAfter:)`` while the name is locked for `source` or `source`
    ///   is locked (the password is then not checked, the attempt not counted, and whether the
    ///   account exists not looked at), or a server fault.
    public func logIn(username raw: String, password: SecretBytes, from source: String = LoginSource.unknown) throws(AccountError) -> AuthenticatedAccount {
        let parsed = try? Username(raw)
        // Bounded, so that a key kept by the throttle is small whatever a caller passes.
        let key = parsed?.value ?? String(decoding: raw.utf8.prefix(AccountLimits.maximumThrottledNameBytes), as: UTF8.self)
        if case .locked(let wait) = throttle.admit(account: key, source: source, at: clock.now()) {
            throw .throttled(retryAfter: wait)
        }
        guard let username = parsed, let record = try storeCall({ try store.find(username) }) else {
            _ = hasher.verify(password, against: dummyHash)
            throw .invalidCredentials
        }
        // An over-long password cannot be right (registration refuses it); it still costs one
        // verification, against the dummy hash, so its timing says nothing either.
        guard password.count <= AccountLimits.maximumPasswordBytes else {
            _ = hasher.verify(SecretBytes(copying: []), against: dummyHash)
            throw .invalidCredentials
        }
        guard hasher.verify(password, against: record.passwordHash) else { throw .invalidCredentials }

        throttle.recordSuccess(account: key, source: source, at: clock.now())
        if hasher.needsRehash(record.passwordHash) {
            // An upgrade of the stored hash to the current cost; never a reason to refuse a
            // correct password, so a failure here leaves the old hash in place.
            if let upgraded = try? hasher.hash(password) {
                try? store.updatePasswordHash(upgraded, for: username)
            }
        }
        return AuthenticatedAccount(username: username, identityKey: record.identityKey)
    }

    // MARK: Deletion

    /// Deletes an authenticated account's record. The application removes the user's prekeys,
    /// mailbox and blocks in the same request, so a later registration of the name inherits
    /// nothing.
    /// - Throws: ``AccountError/storeFailure(_:)``; deleting an account that is already gone is
    ///   not an error (deletion is idempotent for a retrying client).
    public func delete(_ account: AuthenticatedAccount) throws(AccountError) {
        _ = try storeCall { try store.delete(account.username) }
    }

    // MARK: Store plumbing

    private func storeCall<T>(_ body: () throws -> T) throws(AccountError) -> T {
        do { return try body() } catch { throw .storeFailure(Self.storeError(error)) }
    }

    /// Store ports are documented to throw only ``StoreError``; anything else is an adapter bug,
    /// reported rather than trapped on.
    private static func storeError(_ error: any Error) -> StoreError {
        (error as? StoreError) ?? .unavailable("unexpected store error: \(error)")
    }
}
