import Accounts
import Logging
import Prekeys
import Primitives
import SecureChannel
import WireProtocol

/// One connection's state, in one place: who is logged in on it, its subscription to the
/// account's events, which deliveries it has pushed, its sends in flight and their answers. It
/// decodes each frame, dispatches requests to the stateless ``RequestHandlers``, applies what
/// changes this state (sessions start and end here), hands sends to the mailbox writer and
/// pushes deliveries (catch-up at login, then the account's events).
actor ConnectionSession {
    private let connection: any FrameConnection
    private let deps: ParleyServer.Dependencies
    /// The stateless request handlers this session dispatches to.
    private let handlers: RequestHandlers
    private let sessionCount: SessionCounter
    private let inFlightSends: AsyncLimiter
    /// The payload bytes of those sends: a connection holds at most this much unacknowledged mail.
    private let inFlightSendBytes: AsyncLimiter

    private var account: AuthenticatedAccount?
    private var token: SessionToken?
    private var subscription: AccountEventHandlerSubscription?
    /// The account's events, queued by the bus's handler and handled in order on this actor by
    /// a task that runs only while some are waiting (no task, no stream, per idle connection).
    private let events = LockedValue(EventQueue())
    /// Whether an account is logged in (or registered) on this connection now. False again after
    /// a logout, so the login deadline applies again (see ``ParleyServer/serve(_:inbound:)``).
    var isLoggedIn: Bool { account != nil }
    /// Whether the transport accepts large frames on this connection (only while logged in).
    private var largeFramesAllowed = false
    /// The highest envelope id pushed on this session; later events skip what catch-up sent.
    private var lastPushedID: UInt64 = 0
    /// Answers to sends, queued by the mailbox writer as batches commit and written, in order, by
    /// at most one task at a time: one task per burst of answers, not one per answer.
    private let answers = LockedValue(DrainQueue<[UInt8]>())

    private struct EventQueue {
        var events = DrainQueue<AccountEvent>()
        /// Which subscription the queue belongs to: each session start and end moves it on, so
        /// events from an earlier subscription, and a drain started for one, are dropped.
        var generation: UInt64 = 0
        /// Whether catch-up is done, so that events may be handled (they queue until then).
        var delivering = false

        /// Starts a new generation with nothing queued; returns it.
        mutating func reset() -> UInt64 {
            generation &+= 1
            events.reset()
            delivering = false
            return generation
        }
    }

    init(connection: any FrameConnection, dependencies: ParleyServer.Dependencies, sessionCount: SessionCounter) {
        self.connection = connection
        deps = dependencies
        handlers = RequestHandlers(deps: dependencies)
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
        let body = await answer(request.body)
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

    /// Answers a request other than a send: the ones a logged-in connection makes all the time
    /// (acknowledgements, pings) right here, every other one in a task of its own, awaited.
    ///
    /// Why the task: Swift's task allocator keeps the slabs a task's deepest call needed until the
    /// task ends, and ``handle(_:)``'s async frame (the registration's and login's paths) takes one
    /// of ~15 KiB. Run on the connection's serve task, that slab stayed allocated for as long as
    /// the connection was open: valgrind massif, 1,000 idle logged-in connections, 15,664 of the
    /// ~41,000 heap bytes each. A child task gives it back when the request is answered. The
    /// request is still answered before the next frame is read, and cancelling the serve task
    /// cancels it.
    private func answer(_ body: Request.Body) async -> Response.Body {
        switch body {
        case .ping:
            return .pong
        case .acknowledge(let ids):
            do {
                return try await handlers.acknowledge(ids, for: try requireAccount().username)
            } catch {
                return Self.answer(for: error, connection: connection.id, logger: logger)
            }
        default:
            let task = Task { await self.handle(body) }
            return await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
        }
    }

    /// A request's failure as its answer: a `WireError` as it is, a storage failure as
    /// ``RequestHandlers/wireError(for:)`` says ("storage unavailable" when it is worth retrying),
    /// anything else answered as an internal error; the cause is logged here and never sent.
    private static func answer(for error: any Error, connection: ConnectionID, logger: Logger) -> Response.Body {
        if let error = error as? WireError { return .error(error) }
        logger.error("request failed", metadata: ["connection": "\(connection)", "error": "\(error)"])
        if let error = error as? StoreError { return .error(RequestHandlers.wireError(for: error)) }
        return .error(WireError(.internalError, "the server could not complete the request"))
    }

    /// Dispatches a request to ``RequestHandlers`` with what this connection knows, and applies
    /// what changes the connection's state (log in, log out, account deleted) here.
    private func handle(_ body: Request.Body) async -> Response.Body {
        do {
            switch body {
            case .ping:
                return .pong
            case let .register(username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys):
                guard account == nil else { throw WireError(.alreadyAuthenticated, "log out before registering another account") }
                let registered = try await handlers.register(
                    username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys,
                    from: connection.remoteAddress, connection: connection.id)
                startSession(registered)
                return .loggedIn(pending: 0)
            case let .login(username, password):
                guard account == nil else { throw WireError(.alreadyAuthenticated, "already logged in; log out first") }
                let authenticated = try await handlers.logIn(username, password, from: connection.remoteAddress, connection: connection.id)
                startSession(authenticated)
                let pending = try await handlers.pendingCount(for: authenticated.username)
                logger.info("logged in", metadata: ["user": "\(authenticated.username)", "pending": "\(pending)"])
                return .loggedIn(pending: pending)
            case .logout:
                endSession()
                return .ok
            case .deleteAccount(let password):
                let deleted = try await handlers.deleteAccount(try requireAccount(), password: password, from: connection.remoteAddress)
                endSession()
                deps.events.publish(.accountDeleted, to: deleted)
                logger.info("account deleted", metadata: ["user": "\(deleted)"])
                return .ok
            case let .publishPrekeys(signedPrekey, oneTimePrekeys):
                return try await handlers.publishPrekeys(signedPrekey, oneTimePrekeys, for: try requireAccount())
            case .fetchBundle(let username):
                return try await handlers.fetchBundle(username, requester: try requireAccount().username)
            case .identity(let username):
                _ = try requireAccount()
                return try await handlers.identity(of: username)
            case .prekeyCount:
                return try await handlers.prekeyCount(for: try requireAccount().username)
            case .prekeyStatus:
                return try await handlers.prekeyStatus(for: try requireAccount().username)
            case let .publishKEMPrekeys(lastResort, oneTime):
                return try await handlers.publishKEMPrekeys(lastResort, oneTime, for: try requireAccount())
            case .kemPrekeyStatus:
                return try await handlers.kemPrekeyStatus(for: try requireAccount().username)
            case .acknowledge(let ids):
                return try await handlers.acknowledge(ids, for: try requireAccount().username)
            case .block(let username):
                return try await handlers.block(username, by: try requireAccount().username)
            case .unblock(let username):
                return try await handlers.unblock(username, by: try requireAccount().username)
            case .send:
                return .error(WireError(.internalError, "send is handled separately"))
            }
        } catch {
            return Self.answer(for: error, connection: connection.id, logger: logger)
        }
    }

    private func requireAccount() throws(WireError) -> AuthenticatedAccount {
        guard let account else { throw WireError(.notAuthenticated, "log in first") }
        return account
    }

    // MARK: Sending

    /// Queues an envelope for the mailbox writer; the answer is sent once the batch holding it is
    /// on disk. The recipient check (the account exists, has the identity key the sender
    /// encrypted for, and does not block the sender) is made by the store inside that batch's
    /// transaction, as the caps are: one hop per send, and nothing can change between the check
    /// and the insertion. (It used to be a read on the storage queue first: a second hop, and a
    /// gap in which the recipient could be deleted or re-registered.) Later requests are read
    /// meanwhile, so one connection can have many sends in flight.
    private func send(_ envelope: [UInt8], to recipient: Username, identity: Ed25519PublicKey, requestID: UInt32) async {
        guard let sender = account?.username else {
            await reply(requestID, .error(WireError(.notAuthenticated, "log in first")))
            return
        }
        await inFlightSends.acquire()
        await inFlightSendBytes.acquire(envelope.count)
        let draft = MailboxEnvelopeDraft(sender: sender, recipient: recipient, recipientIdentity: identity, payload: envelope, acceptedAt: deps.clock.now())
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
                body = .error(RequestHandlers.wireError(for: refusal, recipient: recipient))
            case .failure(let error):
                logger.error("mailbox commit failed", metadata: ["error": "\(error)"])
                body = .error(WireError(.unavailable, "storage unavailable: the server could not store the message; try again"))
            }
            byteLimiter.release(bytes)
            limiter.release()
            self.queueAnswer(WireCodec.encode(.response(Response(requestID: requestID, body: body))))
        }
    }

    /// Queues an answer; starts the writing task unless one is running. Called on the writer.
    private nonisolated func queueAnswer(_ frame: [UInt8]) {
        if answers.withLock({ $0.append(frame) }) { Task { await self.writeAnswers() } }
    }

    /// Writes queued answers, all that are waiting at a time with one flush, until none is left.
    private nonisolated func writeAnswers() async {
        while true {
            let frames = answers.withLock { $0.take() }
            guard !frames.isEmpty else { return }
            try? await connection.send(contentsOf: frames)
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
            guard let page = try? await handlers.pending(for: user, after: after, limit: pageSize) else { break }
            // A page is written with one flush, not one per envelope.
            await deliver(page)
            if page.count < pageSize { break }
        }
        // Events stored meanwhile were queued; from now on they are handled as they come.
        let start = events.withLock { queue -> Bool in
            guard queue.generation == generation else { return false }
            queue.delivering = true
            return queue.events.claim()
        }
        if start { Task { await self.handleEvents(generation: generation) } }
    }

    /// Called by the event bus, on the publisher's thread.
    private nonisolated func queueEvent(_ event: AccountEvent, generation: UInt64) {
        let start = events.withLock { queue -> Bool in
            guard queue.generation == generation else { return false }
            return queue.events.append(event, startAllowed: queue.delivering)
        }
        if start { Task { await self.handleEvents(generation: generation) } }
    }

    /// Handles queued events in order until none is left, or the subscription has ended.
    private func handleEvents(generation: UInt64) async {
        while true {
            let batch = events.withLock { queue -> [AccountEvent] in
                // A later generation owns the queue (and its turn); this drain just stops.
                guard queue.generation == generation else { return [] }
                return queue.events.take()
            }
            guard !batch.isEmpty else { return }
            for event in batch {
                guard events.withLock({ $0.generation }) == generation else { return }
                await handle(event)
            }
        }
    }

    /// Pushes the envelopes not pushed yet, in order, with one flush; later events skip them.
    private func deliver(_ envelopes: [MailboxEnvelope]) async {
        var frames: [[UInt8]] = []
        frames.reserveCapacity(envelopes.count)
        for envelope in envelopes where envelope.id > lastPushedID {
            lastPushedID = envelope.id
            frames.append(Self.deliveryFrame(envelope))
        }
        try? await connection.send(contentsOf: frames)
    }

    private static func deliveryFrame(_ envelope: MailboxEnvelope) -> [UInt8] {
        WireCodec.encode(.push(.delivery(Delivery(id: envelope.id, sender: envelope.sender, acceptedAt: envelope.acceptedAt, envelope: envelope.payload))))
    }

    private func handle(_ event: AccountEvent) async {
        switch event {
        case .envelopesStored(let envelopes):
            // The batch's deliveries for this account, written together (one flush).
            await deliver(envelopes)
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
}
