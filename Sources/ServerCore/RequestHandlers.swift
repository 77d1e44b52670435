import Accounts
import Logging
import Prekeys
import Primitives
import SecureChannel
import WireProtocol

/// The server's answers to requests, without any connection state: each handler gets what the
/// connection knows (the logged-in account, the peer's address) as parameters, does its store or
/// password-hashing work, and returns the response body or throws a ``WireError`` with a stable
/// code. ``ConnectionSession`` owns the state (who is logged in, the subscription, what was pushed)
/// and calls these; nothing here needs a ``FrameConnection``, so a handler can be exercised with
/// the stores alone.
///
/// Split out of `ConnectionSession`, which used to hold these next to the frame dispatch, the
/// session lifecycle, the send path, the delivery path and the plumbing (six jobs in one actor).
struct RequestHandlers: Sendable {
    let deps: ParleyServer.Dependencies

    private var logger: Logger { deps.logger }

    // MARK: Accounts

    /// Checks the identity binding and the signed prekey, counts the attempt against `address`
    /// and the server-wide registration budget, creates the account (Argon2id on the hashing
    /// pool) and stores its prekeys.
    /// - Throws: ``WireError`` (`invalidIdentityBinding`, `invalidPrekeys`, `throttled`, `busy`,
    ///   the account errors' codes); store failures as thrown by the stores.
    func register(
        _ username: Username, _ password: SecretBytes, _ identityKey: Ed25519PublicKey, _ identitySignature: Ed25519Signature,
        _ signedPrekey: SignedPrekey, _ oneTimePrekeys: [OneTimePrekey], from address: SourceAddress?, connection: ConnectionID
    ) async throws -> AuthenticatedAccount {
        // Checked before any hashing: the identity key must claim this very name.
        guard deps.verifier.isValidBinding(identitySignature, identityKey: identityKey, username: username) else {
            throw WireError(.invalidIdentityBinding, "the identity signature does not bind the identity key to \(username)")
        }
        guard deps.verifier.isValid(signedPrekey, identityKey: identityKey) else {
            throw WireError(.invalidPrekeys, "the signed prekey's signature does not verify under the identity key")
        }
        try admitAuthenticationAttempt(from: address, connection: connection)
        if let wait = deps.registrations.take(at: deps.clock.now()) {
            throw WireError(.throttled, "the server is taking too many new accounts; try again in \(Self.wholeSeconds(wait)) s")
        }
        let service = deps.accountService
        let registered = try await hashing(.unauthenticated) { _ in
            try Self.mapAccountError { () throws(AccountError) in
                try service.registerAndAuthenticate(
                    username: username.value, password: password, identityKey: identityKey, identitySignature: identitySignature)
            }
        }
        try await storage { deps in
            try deps.prekeys.setSignedPrekey(signedPrekey, for: registered.username)
            try deps.prekeys.addOneTimePrekeys(oneTimePrekeys, for: registered.username)
        }
        logger.info("registered", metadata: ["user": "\(registered.username)"])
        return registered
    }

    /// Counts the attempt against `address`, then checks the password (Argon2id on the hashing
    /// pool, with the login throttle).
    /// - Throws: ``WireError`` (`throttled`, `busy`, `invalidCredentials`, ...).
    func logIn(_ username: Username, _ password: SecretBytes, from address: SourceAddress?, connection: ConnectionID) async throws -> AuthenticatedAccount {
        try admitAuthenticationAttempt(from: address, connection: connection)
        let service = deps.accountService
        let source = address?.value ?? "unknown"
        return try await hashing(.unauthenticated) { _ in
            try Self.mapAccountError { () throws(AccountError) in try service.logIn(username: username.value, password: password, from: source) }
        }
    }

    /// How many envelopes wait for `user` (the `loggedIn` answer's count).
    func pendingCount(for user: Username) async throws -> UInt32 {
        let usage = try await storage { try $0.mailbox.usage(for: user) }
        return UInt32(clamping: usage.count)
    }

    /// Re-authenticates `account` with `password` (a session left open must not be enough to
    /// destroy the account), then deletes its record, prekeys, mailbox and blocks in one
    /// transaction. Returns the deleted name.
    func deleteAccount(_ account: AuthenticatedAccount, password: SecretBytes, from address: SourceAddress?) async throws -> Username {
        let service = deps.accountService
        let source = address?.value ?? "unknown"
        let confirmed = try await hashing(.authenticated) { _ in
            try Self.mapAccountError { () throws(AccountError) in try service.logIn(username: account.username.value, password: password, from: source) }
        }
        // One transaction: a failure leaves the account whole (and the client may retry), never
        // a record gone with its mailbox or blocks left behind for the next owner of the name.
        _ = try await storage { deps in try deps.accountDeletion.deleteAccount(confirmed.username) }
        return confirmed.username
    }

    // MARK: Prekeys and identities

    func publishPrekeys(_ signedPrekey: SignedPrekey?, _ oneTimePrekeys: [OneTimePrekey], for account: AuthenticatedAccount) async throws -> Response.Body {
        if let signedPrekey, !deps.verifier.isValid(signedPrekey, identityKey: account.identityKey) {
            throw WireError(.invalidPrekeys, "the signed prekey's signature does not verify under your identity key")
        }
        let refusal = try await storage { deps -> WireError? in
            // One session per account, so nothing else adds to this pool between count and add.
            let held = try deps.prekeys.oneTimePrekeyCount(for: account.username)
            guard held + oneTimePrekeys.count <= ServerLimits.maxOneTimePrekeysPerAccount else {
                return WireError(.tooLarge, "you have \(held) one-time prekeys on the server; at most \(ServerLimits.maxOneTimePrekeysPerAccount) are kept")
            }
            if let signedPrekey { try deps.prekeys.setSignedPrekey(signedPrekey, for: account.username) }
            try deps.prekeys.addOneTimePrekeys(oneTimePrekeys, for: account.username)
            return nil
        }
        if let refusal { throw refusal }
        return .ok
    }

    func fetchBundle(_ username: Username, requester: Username) async throws -> Response.Body {
        let withOneTimePrekey: Bool
        switch deps.bundleFetches.decide(requester: requester, target: username, at: deps.clock.now()) {
        case .refused(let wait):
            throw WireError(.throttled, "too many bundle requests; try again in \(Self.wholeSeconds(wait)) s")
        case .withOneTimePrekey:
            withOneTimePrekey = true
        case .withoutOneTimePrekey:
            withOneTimePrekey = false
        }
        let result = try await storage { deps -> (UnverifiedPrekeyBundle, Int?)? in
            guard let record = try deps.accounts.find(username) else { return nil }
            // The ML-KEM prekey follows the same rationing as the one-time X25519 prekey: while
            // the target's one-time prekeys are being rationed, the last-resort one.
            guard withOneTimePrekey else {
                guard let signed = try deps.prekeys.signedPrekey(for: username) else { return nil }
                let kem = try deps.prekeys.takeKEMPrekey(for: username, allowOneTime: false)
                let bundle = UnverifiedPrekeyBundle(
                    identityKey: record.identityKey, identitySignature: record.identitySignature, signedPrekey: signed, oneTimePrekey: nil,
                    kemPrekey: kem)
                return (bundle, nil)
            }
            guard let taken = try deps.prekeys.takePrekeys(for: username) else { return nil }
            let kem = try deps.prekeys.takeKEMPrekey(for: username, allowOneTime: true)
            let remaining = try deps.prekeys.oneTimePrekeyCount(for: username)
            let bundle = UnverifiedPrekeyBundle(
                identityKey: record.identityKey, identitySignature: record.identitySignature,
                signedPrekey: taken.signedPrekey, oneTimePrekey: taken.oneTimePrekey, kemPrekey: kem)
            return (bundle, remaining)
        }
        guard let (bundle, remaining) = result else { throw WireError(.unknownUser, "there is no user called \(username)") }
        if let remaining, remaining < PrekeyPolicy.oneTimePrekeyLowWatermark {
            deps.events.publish(.prekeysLow(remaining: UInt32(clamping: remaining)), to: username)
        }
        return .bundle(bundle)
    }

    func identity(of username: Username) async throws -> Response.Body {
        let record = try await storage { try $0.accounts.find(username) }
        guard let record else { throw WireError(.unknownUser, "there is no user called \(username)") }
        return .identity(PublishedIdentity(identityKey: record.identityKey, signature: record.identitySignature))
    }

    func prekeyCount(for user: Username) async throws -> Response.Body {
        let count = try await storage { try $0.prekeys.oneTimePrekeyCount(for: user) }
        return .prekeyCount(UInt32(clamping: count))
    }

    func prekeyStatus(for user: Username) async throws -> Response.Body {
        let ids = try await storage { try $0.prekeys.oneTimePrekeyIDs(for: user, limit: WireLimits.maxReportedPrekeyIDs) }
        return .prekeyStatus(heldIDs: ids)
    }

    /// Stores ML-KEM prekeys (PQXDH) after checking each one's signature under the account's
    /// identity key; the one-time pool is capped like the X25519 one.
    func publishKEMPrekeys(_ lastResort: KEMPrekey?, _ oneTime: [KEMPrekey], for account: AuthenticatedAccount) async throws -> Response.Body {
        for prekey in [lastResort].compactMap({ $0 }) + oneTime where !deps.verifier.isValid(prekey, identityKey: account.identityKey) {
            throw WireError(.invalidPrekeys, "ML-KEM prekey \(prekey.id)'s signature does not verify under your identity key")
        }
        let refusal = try await storage { deps -> WireError? in
            // One session per account, so nothing else adds to this pool between count and add.
            let held = try deps.prekeys.kemPrekeyStatus(for: account.username, limit: ServerLimits.maxOneTimePrekeysPerAccount + 1).oneTimeIDs.count
            guard held + oneTime.count <= ServerLimits.maxOneTimePrekeysPerAccount else {
                return WireError(.tooLarge, "you have \(held) one-time ML-KEM prekeys on the server; at most \(ServerLimits.maxOneTimePrekeysPerAccount) are kept")
            }
            if let lastResort { try deps.prekeys.setLastResortKEMPrekey(lastResort, for: account.username) }
            try deps.prekeys.addOneTimeKEMPrekeys(oneTime, for: account.username)
            return nil
        }
        if let refusal { throw refusal }
        return .ok
    }

    func kemPrekeyStatus(for user: Username) async throws -> Response.Body {
        let status = try await storage { try $0.prekeys.kemPrekeyStatus(for: user, limit: WireLimits.maxReportedPrekeyIDs) }
        return .kemPrekeyStatus(oneTimeIDs: status.oneTimeIDs, lastResortID: status.lastResortID)
    }

    // MARK: Mailbox and blocks

    /// On the mailbox writer, sharing the next batch's transaction (and fsync).
    func acknowledge(_ ids: [UInt64], for user: Username) async throws -> Response.Body {
        try await deps.batcher.acknowledge(ids, for: user)
        return .ok
    }

    func block(_ username: Username, by user: Username) async throws -> Response.Body {
        try await storage { try $0.blocks.block(username, by: user) }
        return .ok
    }

    func unblock(_ username: Username, by user: Username) async throws -> Response.Body {
        try await storage { try $0.blocks.unblock(username, by: user) }
        return .ok
    }

    /// Up to `limit` envelopes waiting for `user` after id `after`, for catch-up at login.
    func pending(for user: Username, after: UInt64, limit: Int) async throws -> [MailboxEnvelope] {
        try await storage { try $0.mailbox.pending(for: user, after: after, limit: limit) }
    }

    /// The wire error a send's refusal is answered with.
    static func wireError(for refusal: MailboxRefusal, recipient: Username) -> WireError {
        switch refusal {
        case .tooManyEnvelopes(let limit):
            WireError(.mailboxFull, "\(recipient)'s mailbox is full (\(limit) messages waiting); try again later")
        case .tooManyBytes(let limit):
            WireError(.mailboxFull, "\(recipient)'s mailbox is full (\(limit >> 20) MiB waiting); try again later")
        case .payloadTooLarge(let bytes, let limit):
            WireError(.tooLarge, "the message is \(bytes) bytes; the limit is \(limit)")
        case .senderShareFull(let envelopes, let bytes):
            WireError(.mailboxFull, "you already have \(envelopes) messages or \(bytes >> 20) MiB waiting for \(recipient); try again once they have been read")
        case .serverFull:
            WireError(.unavailable, "the server is out of room for messages; try again later")
        case .unknownRecipient:
            WireError(.unknownUser, "there is no user called \(recipient)")
        case .recipientIdentityChanged:
            WireError(.identityChanged, "\(recipient)'s identity key has changed (the account was registered again)")
        case .blockedByRecipient:
            WireError(.refused, "\(recipient) does not accept messages from you")
        }
    }

    // MARK: Plumbing

    private func storage<T: Sendable>(_ body: @escaping @Sendable (ParleyServer.Dependencies) throws -> T) async throws -> T {
        let deps = self.deps
        return try await deps.storage.run { try body(deps) }
    }

    /// Runs `body` on the password-hashing pool in `lane`.
    /// - Throws: ``WireError/Code/busy`` when the pool's queue for connections not logged in is
    ///   full (nothing ran); whatever `body` throws.
    private func hashing<T: Sendable>(
        _ lane: PasswordHashingPool.Lane, _ body: @escaping @Sendable (ParleyServer.Dependencies) throws -> T
    ) async throws -> T {
        let deps = self.deps
        do {
            return try await deps.hashing.run(lane) { try body(deps) }
        } catch is PasswordHashingPool.Busy {
            throw WireError(.busy, "the server is busy; retry in a few seconds")
        }
    }

    /// Counts a login or registration against the connection's source address.
    /// - Throws: ``WireError/Code/throttled`` past the per-address limit.
    private func admitAuthenticationAttempt(from address: SourceAddress?, connection: ConnectionID) throws(WireError) {
        guard let wait = deps.authenticationLimiter.admit(address) else { return }
        logger.debug("login or registration refused: per-address limit", metadata: ["connection": "\(connection)"])
        throw WireError(.throttled, "too many login or registration attempts from your address; try again in \(Self.wholeSeconds(wait)) s")
    }

    /// A wait rounded up to whole seconds, at least 1, for a message.
    static func wholeSeconds(_ wait: Duration) -> Int {
        max(1, Int(wait.components.seconds) + (wait.components.attoseconds > 0 ? 1 : 0))
    }

    /// Turns the Accounts domain's errors into wire errors with stable codes. Server faults say
    /// nothing about their cause to the client; the cause is logged.
    static func mapAccountError<T>(_ body: () throws(AccountError) -> T) throws(WireError) -> T {
        do {
            return try body()
        } catch {
            switch error {
            case .invalidUsername(let reason): throw WireError(.invalidUsername, reason.description)
            case .usernameTaken(let name): throw WireError(.usernameTaken, "the username \(name) is taken")
            case .identityKeyTaken: throw WireError(.identityKeyTaken, "another account already has this identity key")
            case .weakPassword(let reason): throw WireError(.weakPassword, reason.description)
            case .invalidCredentials: throw WireError(.invalidCredentials, "wrong username or password")
            case .throttled(let wait):
                throw WireError(.throttled, "too many failed logins; try again in \(wholeSeconds(wait)) s")
            case .storeFailure(let failure):
                throw wireError(for: failure)
            case .hashingFailed:
                throw WireError(.internalError, "the server could not complete the request")
            }
        }
    }

    /// What a client is told when storage fails under a request: storage that could not be reached
    /// or written (a database that is down or restarting, a full disk) is `unavailable`, "storage
    /// unavailable", worth retrying; anything else (corrupt data, a broken invariant) is an
    /// internal error. The cause itself is logged, never sent.
    static func wireError(for failure: StoreError) -> WireError {
        switch failure {
        case .unavailable, .diskFull:
            WireError(.unavailable, "storage unavailable: the server could not complete the request; try again")
        case .alreadyExists, .notFound, .limitReached, .corrupt:
            WireError(.internalError, "the server could not complete the request")
        }
    }
}
