import Accounts
import Logging
import Prekeys
import Primitives
import SecureChannel
import Synchronization
import WireProtocol

/// One connection's state and request handling: who is logged in on it, which deliveries it has
/// pushed, and its subscription to the account's events.
actor ConnectionSession {
    private let connection: any FrameConnection
    private let deps: ParleyServer.Dependencies
    private let sessionCount: SessionCounter
    private let inFlightSends: AsyncLimiter
    /// The payload bytes of those sends: a connection holds at most this much unacknowledged mail.
    private let inFlightSendBytes: AsyncLimiter

    private var account: AuthenticatedAccount?
    private var token: SessionToken?
    private var subscription: AccountEventHandlerSubscription?
    /// The account's events, queued by the bus's handler and handled in order on this actor by
    /// a task that runs only while some are waiting (no task, no stream, per idle connection).
    private let events = Mutex(EventQueue())
    /// Whether an account is logged in (or registered) on this connection now. False again after
    /// a logout, so the login deadline applies again (see ``ParleyServer/serve(_:inbound:)``).
    var isLoggedIn: Bool { account != nil }
    /// Whether the transport accepts large frames on this connection (only while logged in).
    private var largeFramesAllowed = false
    /// The highest envelope id pushed on this session; later events skip what catch-up sent.
    private var lastPushedID: UInt64 = 0
    /// Answers to sends, queued by the mailbox writer as batches commit and written, in order, by
    /// at most one task at a time: one task per burst of answers, not one per answer.
    private let answers = Mutex(AnswerQueue())

    private struct EventQueue {
        var events: [AccountEvent] = []
        /// Which subscription the queue belongs to: each session start and end moves it on, so
        /// events from an earlier subscription, and a drain started for one, are dropped.
        var generation: UInt64 = 0
        /// Whether catch-up is done, so that events may be handled (they queue until then).
        var delivering = false
        /// Whether a task is handling the queue.
        var draining = false

        /// Starts a new generation with nothing queued; returns it.
        mutating func reset() -> UInt64 {
            generation &+= 1
            events = []
            delivering = false
            draining = false
            return generation
        }
    }

    private struct AnswerQueue {
        var frames: [[UInt8]] = []
        var writing = false
    }

    init(connection: any FrameConnection, dependencies: ParleyServer.Dependencies, sessionCount: SessionCounter) {
        self.connection = connection
        deps = dependencies
        self.sessionCount = sessionCount
        inFlightSends = AsyncLimiter(limit: dependencies.configuration.maxInFlightSendsPerConnection)
        inFlightSendBytes = AsyncLimiter(limit: dependencies.configuration.maxInFlightSendBytesPerConnection)
    }

    private var logger: Logger { deps.logger }

    // MARK: Frames

    /// Handles one frame; returns whether an account is logged in on this connection afterwards.
    @discardableResult
    func receive(_ frame: [UInt8]) async -> Bool {
        await handleFrame(frame)
        return isLoggedIn
    }

    private func handleFrame(_ frame: [UInt8]) async {
        let message: WireMessage
        do {
            message = try WireCodec.decode(frame)
        } catch {
            // A frame we cannot read is answered, not fatal: the channel itself is intact.
            logger.info("malformed request", metadata: ["connection": "\(connection.id)", "error": "\(error)"])
            let id = WireCodec.requestID(ofUndecodable: frame) ?? 0
            if WireCodec.isRetiredRequest(frame) {
                // A client from before the identity binding: tell it to update, in words it can read.
                await reply(id, .error(WireError(.unsupportedVersion, "this client is too old to register here: update it")))
                return
            }
            await reply(id, .error(WireError(.malformedRequest, "the request could not be decoded: \(error)")))
            return
        }
        guard case .request(let request) = message else {
            await reply(0, .error(WireError(.malformedRequest, "clients send requests only")))
            return
        }
        if case let .send(recipient, recipientIdentity, envelope) = request.body {
            await send(envelope, to: recipient, identity: recipientIdentity, requestID: request.id)
            return
        }
        let body = await handle(request.body)
        // Lifted before the login answer goes out (the client may send a large frame as soon as it
        // reads it), restored after a logout.
        if isLoggedIn != largeFramesAllowed {
            largeFramesAllowed = isLoggedIn
            await connection.allowLargeInboundFrames(isLoggedIn)
        }
        await reply(request.id, body)
        // Deliveries follow the login answer, never precede it.
        if case .loggedIn = body { await beginDelivery() }
    }

    private func reply(_ requestID: UInt32, _ body: Response.Body) async {
        try? await connection.send(WireCodec.encode(.response(Response(requestID: requestID, body: body))))
    }

    private func push(_ push: Push) async {
        try? await connection.send(WireCodec.encode(.push(push)))
    }

    // MARK: Requests

    private func handle(_ body: Request.Body) async -> Response.Body {
        do {
            switch body {
            case .ping:
                return .pong
            case let .register(username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys):
                return try await register(username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys)
            case let .login(username, password):
                return try await logIn(username, password)
            case .logout:
                endSession()
                return .ok
            case .deleteAccount(let password):
                return try await deleteAccount(password)
            case let .publishPrekeys(signedPrekey, oneTimePrekeys):
                return try await publishPrekeys(signedPrekey, oneTimePrekeys)
            case .fetchBundle(let username):
                return try await fetchBundle(username)
            case .identity(let username):
                _ = try requireAccount()
                let record = try await storage { try $0.accounts.find(username) }
                guard let record else { throw WireError(.unknownUser, "there is no user called \(username)") }
                return .identity(PublishedIdentity(identityKey: record.identityKey, signature: record.identitySignature))
            case .prekeyCount:
                let user = try requireAccount().username
                let count = try await storage { try $0.prekeys.oneTimePrekeyCount(for: user) }
                return .prekeyCount(UInt32(clamping: count))
            case .prekeyStatus:
                let user = try requireAccount().username
                let ids = try await storage { try $0.prekeys.oneTimePrekeyIDs(for: user, limit: WireLimits.maxReportedPrekeyIDs) }
                return .prekeyStatus(heldIDs: ids)
            case let .publishKEMPrekeys(lastResort, oneTime):
                return try await publishKEMPrekeys(lastResort, oneTime)
            case .kemPrekeyStatus:
                let user = try requireAccount().username
                let status = try await storage { try $0.prekeys.kemPrekeyStatus(for: user, limit: WireLimits.maxReportedPrekeyIDs) }
                return .kemPrekeyStatus(oneTimeIDs: status.oneTimeIDs, lastResortID: status.lastResortID)
            case .acknowledge(let ids):
                let user = try requireAccount().username
                // On the mailbox writer, sharing the next batch's transaction (and fsync).
                try await deps.batcher.acknowledge(ids, for: user)
                return .ok
            case .block(let username):
                let user = try requireAccount().username
                try await storage { try $0.blocks.block(username, by: user) }
                return .ok
            case .unblock(let username):
                let user = try requireAccount().username
                try await storage { try $0.blocks.unblock(username, by: user) }
                return .ok
            case .send:
                return .error(WireError(.internalError, "send is handled separately"))
            }
        } catch let error as WireError {
            return .error(error)
        } catch {
            logger.error("request failed", metadata: ["connection": "\(connection.id)", "error": "\(error)"])
            return .error(WireError(.internalError, "the server could not complete the request"))
        }
    }

    private func requireAccount() throws(WireError) -> AuthenticatedAccount {
        guard let account else { throw WireError(.notAuthenticated, "log in first") }
        return account
    }

    private func register(
        _ username: Username, _ password: SecretBytes, _ identityKey: Ed25519PublicKey, _ identitySignature: Ed25519Signature,
        _ signedPrekey: SignedPrekey, _ oneTimePrekeys: [OneTimePrekey]
    ) async throws -> Response.Body {
        guard account == nil else { throw WireError(.alreadyAuthenticated, "log out before registering another account") }
        // Checked before any hashing: the identity key must claim this very name.
        guard deps.verifier.isValidBinding(identitySignature, identityKey: identityKey, username: username) else {
            throw WireError(.invalidIdentityBinding, "the identity signature does not bind the identity key to \(username)")
        }
        guard deps.verifier.isValid(signedPrekey, identityKey: identityKey) else {
            throw WireError(.invalidPrekeys, "the signed prekey's signature does not verify under the identity key")
        }
        try admitAuthenticationAttempt()
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
        startSession(registered)
        return .loggedIn(pending: 0)
    }

    private func logIn(_ username: Username, _ password: SecretBytes) async throws -> Response.Body {
        guard account == nil else { throw WireError(.alreadyAuthenticated, "already logged in; log out first") }
        try admitAuthenticationAttempt()
        let service = deps.accountService
        let source = connection.remoteAddress?.value ?? "unknown"
        let authenticated = try await hashing(.unauthenticated) { _ in
            try Self.mapAccountError { () throws(AccountError) in try service.logIn(username: username.value, password: password, from: source) }
        }
        startSession(authenticated)
        let usage = try await storage { try $0.mailbox.usage(for: authenticated.username) }
        logger.info("logged in", metadata: ["user": "\(authenticated.username)", "pending": "\(usage.count)"])
        return .loggedIn(pending: UInt32(clamping: usage.count))
    }

    private func deleteAccount(_ password: SecretBytes) async throws -> Response.Body {
        let current = try requireAccount()
        let service = deps.accountService
        let source = connection.remoteAddress?.value ?? "unknown"
        // Re-authenticate: a session left open must not be enough to destroy the account.
        let confirmed = try await hashing(.authenticated) { _ in
            try Self.mapAccountError { () throws(AccountError) in try service.logIn(username: current.username.value, password: password, from: source) }
        }
        // One transaction: a failure leaves the account whole (and the client may retry), never
        // a record gone with its mailbox or blocks left behind for the next owner of the name.
        _ = try await storage { deps in try deps.accountDeletion.deleteAccount(confirmed.username) }
        endSession()
        deps.events.publish(.accountDeleted, to: confirmed.username)
        logger.info("account deleted", metadata: ["user": "\(confirmed.username)"])
        return .ok
    }

    private func publishPrekeys(_ signedPrekey: SignedPrekey?, _ oneTimePrekeys: [OneTimePrekey]) async throws -> Response.Body {
        let current = try requireAccount()
        if let signedPrekey, !deps.verifier.isValid(signedPrekey, identityKey: current.identityKey) {
            throw WireError(.invalidPrekeys, "the signed prekey's signature does not verify under your identity key")
        }
        let refusal = try await storage { deps -> WireError? in
            // One session per account, so nothing else adds to this pool between count and add.
            let held = try deps.prekeys.oneTimePrekeyCount(for: current.username)
            guard held + oneTimePrekeys.count <= ServerLimits.maxOneTimePrekeysPerAccount else {
                return WireError(.tooLarge, "you have \(held) one-time prekeys on the server; at most \(ServerLimits.maxOneTimePrekeysPerAccount) are kept")
            }
            if let signedPrekey { try deps.prekeys.setSignedPrekey(signedPrekey, for: current.username) }
            try deps.prekeys.addOneTimePrekeys(oneTimePrekeys, for: current.username)
            return nil
        }
        if let refusal { throw refusal }
        return .ok
    }

    private func publishKEMPrekeys(_ lastResort: KEMPrekey?, _ oneTime: [KEMPrekey]) async throws -> Response.Body {
        let current = try requireAccount()
        for prekey in [lastResort].compactMap({ $0 }) + oneTime where !deps.verifier.isValid(prekey, identityKey: current.identityKey) {
            throw WireError(.invalidPrekeys, "ML-KEM prekey \(prekey.id)'s signature does not verify under your identity key")
        }
        let refusal = try await storage { deps -> WireError? in
            // One session per account, so nothing else adds to this pool between count and add.
            let held = try deps.prekeys.kemPrekeyStatus(for: current.username, limit: ServerLimits.maxOneTimePrekeysPerAccount + 1).oneTimeIDs.count
            guard held + oneTime.count <= ServerLimits.maxOneTimePrekeysPerAccount else {
                return WireError(.tooLarge, "you have \(held) one-time ML-KEM prekeys on the server; at most \(ServerLimits.maxOneTimePrekeysPerAccount) are kept")
            }
            if let lastResort { try deps.prekeys.setLastResortKEMPrekey(lastResort, for: current.username) }
            try deps.prekeys.addOneTimeKEMPrekeys(oneTime, for: current.username)
            return nil
        }
        if let refusal { throw refusal }
        return .ok
    }

    private func fetchBundle(_ username: Username) async throws -> Response.Body {
        let requester = try requireAccount().username
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

    // MARK: Sending

    /// Checks and queues an envelope; the answer is sent once the batch holding it is on disk.
    /// Later requests are read meanwhile, so one connection can have many sends in flight.
    private func send(_ envelope: [UInt8], to recipient: Username, identity: Ed25519PublicKey, requestID: UInt32) async {
        guard let sender = account?.username else {
            await reply(requestID, .error(WireError(.notAuthenticated, "log in first")))
            return
        }
        let verdict: WireError?
        do {
            verdict = try await storage { deps -> WireError? in
                guard let record = try deps.accounts.find(recipient) else { return WireError(.unknownUser, "there is no user called \(recipient)") }
                guard record.identityKey == identity else {
                    return WireError(.identityChanged, "\(recipient)'s identity key has changed (the account was registered again)")
                }
                guard try !deps.blocks.isBlocked(sender: sender, by: recipient) else { return WireError(.refused, "\(recipient) does not accept messages from you") }
                return nil
            }
        } catch {
            logger.error("send check failed", metadata: ["error": "\(error)"])
            verdict = WireError(.unavailable, "the server could not store the message; try again")
        }
        if let verdict {
            await reply(requestID, .error(verdict))
            return
        }
        await inFlightSends.acquire()
        await inFlightSendBytes.acquire(envelope.count)
        let draft = MailboxEnvelopeDraft(sender: sender, recipient: recipient, payload: envelope, acceptedAt: deps.clock.now())
        let limiter = inFlightSends
        let byteLimiter = inFlightSendBytes
        let bytes = envelope.count
        let logger = self.logger
        deps.batcher.submit(draft) { [self] result in
            let body: Response.Body
            switch result {
            case .success(.accepted(let stored)):
                body = .accepted(envelopeID: stored.id, acceptedAt: stored.acceptedAt)
            case .success(.refused(let refusal)):
                body = .error(Self.wireError(for: refusal, recipient: recipient))
            case .failure(let error):
                logger.error("mailbox commit failed", metadata: ["error": "\(error)"])
                body = .error(WireError(.unavailable, "the server could not store the message; try again"))
            }
            byteLimiter.release(bytes)
            limiter.release()
            self.queueAnswer(WireCodec.encode(.response(Response(requestID: requestID, body: body))))
        }
    }

    /// Queues an answer; starts the writing task unless one is running. Called on the writer.
    private nonisolated func queueAnswer(_ frame: [UInt8]) {
        let start = answers.withLock { queue -> Bool in
            queue.frames.append(frame)
            guard !queue.writing else { return false }
            queue.writing = true
            return true
        }
        if start { Task { await self.writeAnswers() } }
    }

    /// Writes queued answers, all that are waiting at a time with one flush, until none is left.
    private nonisolated func writeAnswers() async {
        while true {
            let frames = answers.withLock { queue -> [[UInt8]] in
                if queue.frames.isEmpty { queue.writing = false }
                defer { queue.frames = [] }
                return queue.frames
            }
            guard !frames.isEmpty else { return }
            try? await connection.send(contentsOf: frames)
        }
    }

    private static func wireError(for refusal: MailboxRefusal, recipient: Username) -> WireError {
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
        }
    }

    // MARK: Sessions and delivery

    private func startSession(_ authenticated: AuthenticatedAccount) {
        let newToken = SessionToken(rawValue: UInt64(deps.random.uint32()) << 32 | UInt64(deps.random.uint32()))
        account = authenticated
        token = newToken
        lastPushedID = 0
        sessionCount.add(1)
        // Subscribe before announcing, so nothing stored from now on can be missed.
        let generation = events.withLock { $0.reset() }
        subscription = deps.events.subscribe(authenticated.username) { [weak self] event in
            self?.queueEvent(event, generation: generation)
        }
        // One session per account: the newest login wins, every other session ends.
        deps.events.publish(.sessionClaimed(newToken), to: authenticated.username)
    }

    /// Pushes what is waiting in the mailbox, then follows the account's events.
    private func beginDelivery() async {
        guard let user = account?.username, subscription != nil else { return }
        let generation = events.withLock { $0.generation }
        let pageSize = deps.configuration.catchUpPageSize
        while account?.username == user {
            let after = lastPushedID
            guard let page = try? await storage({ try $0.mailbox.pending(for: user, after: after, limit: pageSize) }) else { break }
            for envelope in page { await deliver(envelope) }
            if page.count < pageSize { break }
        }
        // Events stored meanwhile were queued; from now on they are handled as they come.
        let start = events.withLock { queue -> Bool in
            guard queue.generation == generation else { return false }
            queue.delivering = true
            guard !queue.events.isEmpty, !queue.draining else { return false }
            queue.draining = true
            return true
        }
        if start { Task { await self.handleEvents(generation: generation) } }
    }

    /// Called by the event bus, on the publisher's thread.
    private nonisolated func queueEvent(_ event: AccountEvent, generation: UInt64) {
        let start = events.withLock { queue -> Bool in
            guard queue.generation == generation else { return false }
            queue.events.append(event)
            guard queue.delivering, !queue.draining else { return false }
            queue.draining = true
            return true
        }
        if start { Task { await self.handleEvents(generation: generation) } }
    }

    /// Handles queued events in order until none is left, or the subscription has ended.
    private func handleEvents(generation: UInt64) async {
        while true {
            let batch = events.withLock { queue -> [AccountEvent] in
                // A later generation owns `draining`; this drain just stops.
                guard queue.generation == generation else { return [] }
                if queue.events.isEmpty { queue.draining = false }
                defer { queue.events = [] }
                return queue.events
            }
            guard !batch.isEmpty else { return }
            for event in batch {
                guard events.withLock({ $0.generation }) == generation else { return }
                await handle(event)
            }
        }
    }

    private func deliver(_ envelope: MailboxEnvelope) async {
        guard envelope.id > lastPushedID else { return }
        lastPushedID = envelope.id
        try? await connection.send(Self.deliveryFrame(envelope))
    }

    private static func deliveryFrame(_ envelope: MailboxEnvelope) -> [UInt8] {
        WireCodec.encode(.push(.delivery(Delivery(id: envelope.id, sender: envelope.sender, acceptedAt: envelope.acceptedAt, envelope: envelope.payload))))
    }

    private func handle(_ event: AccountEvent) async {
        switch event {
        case .envelopesStored(let envelopes):
            // The batch's deliveries for this account, written together (one flush).
            var frames: [[UInt8]] = []
            for envelope in envelopes where envelope.id > lastPushedID {
                lastPushedID = envelope.id
                frames.append(Self.deliveryFrame(envelope))
            }
            try? await connection.send(contentsOf: frames)
        case .sessionClaimed(let claimant):
            guard claimant != token else { return }
            logger.info("signed in elsewhere", metadata: ["connection": "\(connection.id)"])
            await push(.signedInElsewhere)
            endSession()
            await connection.close()
        case .prekeysLow(let remaining):
            await push(.prekeysLow(remaining: remaining))
        case .accountDeleted:
            endSession()
            await connection.close()
        }
    }

    private func endSession() {
        if account != nil { sessionCount.add(-1) }
        account = nil
        token = nil
        subscription?.cancel()
        subscription = nil
        _ = events.withLock { $0.reset() }
    }

    func end() {
        endSession()
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

    /// Counts a login or registration against this connection's source address.
    /// - Throws: ``WireError/Code/throttled`` past the per-address limit.
    private func admitAuthenticationAttempt() throws(WireError) {
        guard let wait = deps.authenticationLimiter.admit(connection.remoteAddress) else { return }
        let seconds = max(1, Int(wait.components.seconds) + (wait.components.attoseconds > 0 ? 1 : 0))
        logger.debug("login or registration refused: per-address limit", metadata: ["connection": "\(connection.id)"])
        throw WireError(.throttled, "too many login or registration attempts from your address; try again in \(seconds) s")
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
            case .storeFailure, .hashingFailed:
                throw WireError(.internalError, "the server could not complete the request")
            }
        }
    }
}
