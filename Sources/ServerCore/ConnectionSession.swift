import Accounts
import Logging
import Prekeys
import Primitives
import SecureChannel
import WireProtocol

/// One connection's state machine, owned by the connection's context (on TCP, its channel's
/// event loop; see ``FrameEventConnection``): who is logged in on it, its subscription to the
/// account's events, which deliveries it has pushed, its sends and acknowledgements in flight and
/// their answers, and the login deadline. The transport feeds it frames and writability changes;
/// it decodes each frame, answers what needs no storage at once, hands sends and acknowledgements
/// to the mailbox writer, runs every other request's storage or hashing work in a task that hops
/// back to the context with its result, and pushes deliveries (catch-up at login, then the
/// account's events).
///
/// An idle logged-in connection is this object and its subscription: no task, no stream, no
/// actor, no timer (the transport's keep-alive tick aside). Work from other threads reaches it
/// only through ``FrameEventConnection/execute(_:)``: the mailbox writer's answers and the event
/// bus's events go through a ``DrainQueue`` each, so a burst costs one hop and one flush.
///
/// Ordering, as before this was a state machine: a request other than a send, an
/// acknowledgement or a ping is answered before the next frame is taken (the transport holds
/// frames meanwhile); sends and acknowledgements are pipelined, answered in the order the writer
/// commits them, up to ``ServerConfiguration/maxInFlightSendsPerConnection`` of them and
/// ``ServerConfiguration/maxInFlightSendBytesPerConnection`` payload bytes; deliveries follow the
/// login answer. While the peer does not read (the connection is not writable) no frame is
/// taken and no event or catch-up page is written, so a slow reader cannot make the server
/// buffer without bound.
///
/// `@unchecked Sendable`: its mutable state is touched only on the connection's context (the
/// blocks passed to `execute` and the receiver callbacks); what other threads touch is behind
/// the two locks.
final class ConnectionSession: FrameEventReceiver, @unchecked Sendable {
    private let connection: any FrameEventConnection
    private let deps: ParleyServer.Dependencies
    /// The stateless request handlers this session dispatches to.
    private let handlers: RequestHandlers
    private let sessionCount: SessionCounter

    // Context-only state.
    private var account: AuthenticatedAccount?
    private var token: SessionToken?
    private var subscription: AccountEventHandlerSubscription?
    private var isClosed = false
    /// Whether the transport accepts large frames on this connection (only while logged in).
    private var largeFramesAllowed = false
    /// The highest envelope id pushed on this session; later events skip what catch-up sent.
    private var lastPushedID: UInt64 = 0
    /// A request with work off the context is running; no frame is taken until it is answered.
    private var requestRunning = false
    /// A send that arrived while its bytes did not fit the in-flight budget.
    private var heldSend: Request?
    /// Sends and acknowledgements handed to the writer and not answered yet, and the sends' bytes.
    private var inFlight = 0
    private var inFlightBytes = 0
    /// Closes the connection unless an account logs in on it first; armed whenever none is.
    private var loginDeadline: ScheduledWork?
    /// The deadline passed while a login or registration was running: its answer decides.
    private var deadlinePassed = false
    /// Delivery that waits for the connection to become writable again.
    private var pausedDelivery: PausedDelivery?

    private enum PausedDelivery {
        case catchUp(user: Username, generation: UInt64)
        case events(generation: UInt64)
    }

    // Shared with other threads.
    /// The account's events, queued by the bus's handler on the publisher's thread and handled in
    /// order on the context once catch-up is done.
    private let events = LockedValue(EventQueue())
    /// Answers to sends and acknowledgements, queued by the mailbox writer as batches commit.
    private let answers = LockedValue(DrainQueue<Answer>())

    private struct Answer: Sendable {
        let frame: [UInt8]
        /// Payload bytes the answered send held in the in-flight budget (0 for an acknowledgement).
        let bytes: Int
    }

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

    /// Called by ``ParleyServer/accept(_:)`` on the connection's context.
    init(connection: any FrameEventConnection, dependencies: ParleyServer.Dependencies, sessionCount: SessionCounter) {
        self.connection = connection
        deps = dependencies
        handlers = RequestHandlers(deps: dependencies)
        self.sessionCount = sessionCount
        armLoginDeadline()
    }

    private var logger: Logger { deps.logger }

    // MARK: FrameEventReceiver

    var wantsFrames: Bool {
        !isClosed && !requestRunning && heldSend == nil && inFlight < deps.configuration.maxInFlightSendsPerConnection
            && connection.isWritable
    }

    func received(_ frame: [UInt8]) {
        guard !isClosed else { return }
        let message: WireMessage
        do {
            message = try WireCodec.decode(frame)
        } catch {
            // A frame we cannot read is answered, not fatal: the channel itself is intact.
            logger.info("malformed request", metadata: ["connection": "\(connection.id)", "error": "\(error)"])
            let id = WireCodec.requestID(ofUndecodable: frame) ?? 0
            if WireCodec.isRetiredRequest(frame) {
                // A client from before the identity binding: tell it to update, in words it can read.
                reply(id, .error(WireError(.unsupportedVersion, "this client is too old to register here: update it")))
                return
            }
            reply(id, .error(WireError(.malformedRequest, "the request could not be decoded: \(error)")))
            return
        }
        guard case .request(let request) = message else {
            reply(0, .error(WireError(.malformedRequest, "clients send requests only")))
            return
        }
        switch request.body {
        case .send(_, _, let envelope):
            if fitsInFlight(envelope.count) {
                send(request)
            } else {
                heldSend = request
            }
        case .acknowledge(let ids):
            acknowledge(ids, requestID: request.id)
        case .ping:
            reply(request.id, .pong)
        case .logout:
            endSession()
            applyFrameLimit()
            reply(request.id, .ok)
        default:
            start(request)
        }
    }

    func writabilityChanged(_ isWritable: Bool) {
        guard isWritable, !isClosed else { return }
        if let paused = pausedDelivery {
            pausedDelivery = nil
            switch paused {
            case let .catchUp(user, generation): catchUp(user, generation: generation)
            case .events(let generation): drainEvents(generation: generation)
            }
        }
        resumeIfReady()
    }

    func closed() {
        guard !isClosed else { return }
        isClosed = true
        loginDeadline?.cancel()
        loginDeadline = nil
        pausedDelivery = nil
        heldSend = nil
        endSession()
    }

    /// Lets the transport hand over frames again once this session takes them.
    private func resumeIfReady() {
        if wantsFrames { connection.resumeReading() }
    }

    private func reply(_ requestID: UInt32, _ body: Response.Body) {
        connection.write(WireCodec.encode(.response(Response(requestID: requestID, body: body))))
    }

    // MARK: Requests with work off the context

    /// What a request's work produced, applied on the context by ``finish(_:_:)``.
    private enum Outcome: Sendable {
        case answer(Response.Body)
        case authenticated(AuthenticatedAccount, pending: UInt32)
        case deleted(Username)
    }

    /// Runs a request's storage or hashing work in a task; no frame is taken until it is answered.
    /// What the request needs to know about the connection is read here, on the context; what it
    /// changes is applied when the answer comes back.
    private func start(_ request: Request) {
        let account = self.account
        switch request.body {
        case .register:
            guard account == nil else {
                reply(request.id, .error(WireError(.alreadyAuthenticated, "log out before registering another account")))
                return
            }
        case .login:
            guard account == nil else {
                reply(request.id, .error(WireError(.alreadyAuthenticated, "already logged in; log out first")))
                return
            }
        default:
            guard account != nil else {
                reply(request.id, .error(WireError(.notAuthenticated, "log in first")))
                return
            }
        }
        requestRunning = true
        let handlers = self.handlers
        let address = connection.remoteAddress
        let id = connection.id
        let logger = self.logger
        deps.work.run {
            let outcome: Outcome
            do {
                outcome = try await Self.perform(request.body, account: account, handlers: handlers, address: address, connection: id)
            } catch {
                outcome = .answer(Self.answer(for: error, connection: id, logger: logger))
            }
            self.connection.execute { self.finish(request.id, outcome) }
        }
    }

    /// The work of a request other than a send, an acknowledgement, a ping or a logout, with what
    /// the connection knew when it arrived. Runs off the context.
    private static func perform(
        _ body: Request.Body, account: AuthenticatedAccount?, handlers: RequestHandlers, address: SourceAddress?, connection: ConnectionID
    ) async throws -> Outcome {
        func requireAccount() throws(WireError) -> AuthenticatedAccount {
            guard let account else { throw WireError(.notAuthenticated, "log in first") }
            return account
        }
        switch body {
        case let .register(username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys):
            let registered = try await handlers.register(
                username, password, identityKey, identitySignature, signedPrekey, oneTimePrekeys, from: address, connection: connection)
            return .authenticated(registered, pending: 0)
        case let .login(username, password):
            let authenticated = try await handlers.logIn(username, password, from: address, connection: connection)
            let pending = try await handlers.pendingCount(for: authenticated.username)
            return .authenticated(authenticated, pending: pending)
        case .deleteAccount(let password):
            return .deleted(try await handlers.deleteAccount(try requireAccount(), password: password, from: address))
        case let .publishPrekeys(signedPrekey, oneTimePrekeys):
            return .answer(try await handlers.publishPrekeys(signedPrekey, oneTimePrekeys, for: try requireAccount()))
        case .fetchBundle(let username):
            return .answer(try await handlers.fetchBundle(username, requester: try requireAccount().username))
        case .identity(let username):
            return .answer(try await handlers.identity(of: username))
        case .prekeyCount:
            return .answer(try await handlers.prekeyCount(for: try requireAccount().username))
        case .prekeyStatus:
            return .answer(try await handlers.prekeyStatus(for: try requireAccount().username))
        case let .publishKEMPrekeys(lastResort, oneTime):
            return .answer(try await handlers.publishKEMPrekeys(lastResort, oneTime, for: try requireAccount()))
        case .kemPrekeyStatus:
            return .answer(try await handlers.kemPrekeyStatus(for: try requireAccount().username))
        case .block(let username):
            return .answer(try await handlers.block(username, by: try requireAccount().username))
        case .unblock(let username):
            return .answer(try await handlers.unblock(username, by: try requireAccount().username))
        case .send, .acknowledge, .ping, .logout:
            // Answered on the context by ``received(_:)``; never started as a task.
            return .answer(.error(WireError(.internalError, "the server could not complete the request")))
        }
    }

    /// Applies a request's outcome on the context and answers it.
    private func finish(_ requestID: UInt32, _ outcome: Outcome) {
        requestRunning = false
        let body: Response.Body
        switch outcome {
        case .answer(let answer):
            body = answer
        case let .authenticated(authenticated, pending):
            // A connection that closed while the password was checked gets no session.
            guard !isClosed else { return }
            startSession(authenticated)
            logger.info("logged in", metadata: ["user": "\(authenticated.username)", "pending": "\(pending)"])
            body = .loggedIn(pending: pending)
        case .deleted(let deleted):
            endSession()
            deps.events.publish(.accountDeleted, to: deleted)
            logger.info("account deleted", metadata: ["user": "\(deleted)"])
            body = .ok
        }
        guard !isClosed else { return }
        applyFrameLimit()
        reply(requestID, body)
        if deadlinePassed {
            deadlinePassed = false
            // The login that outlived the deadline failed: the refusal goes out, then the close.
            guard account != nil else { return closeForMissedDeadline() }
        }
        // Deliveries follow the login answer, never precede it.
        if case .loggedIn = body { beginDelivery() }
        resumeIfReady()
    }

    /// Lifts the transport's small frame limit while logged in, restores it after a logout;
    /// before the login answer goes out (the client may send a large frame as soon as it reads it).
    private func applyFrameLimit() {
        let loggedIn = account != nil
        guard loggedIn != largeFramesAllowed else { return }
        largeFramesAllowed = loggedIn
        connection.allowLargeInboundFrames(loggedIn)
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

    // MARK: Sends and acknowledgements

    /// Whether a send of `bytes` fits the in-flight byte budget now (one larger than the whole
    /// budget waits until nothing else is in flight, rather than forever).
    private func fitsInFlight(_ bytes: Int) -> Bool {
        let limit = deps.configuration.maxInFlightSendBytesPerConnection
        return inFlightBytes + min(bytes, limit) <= limit || inFlight == 0
    }

    /// Queues an envelope for the mailbox writer; the answer is sent once the batch holding it is
    /// on disk. The recipient check (the account exists, has the identity key the sender
    /// encrypted for, and does not block the sender) is made by the store inside that batch's
    /// transaction, as the caps are: one hop per send, and nothing can change between the check
    /// and the insertion. Later frames are taken meanwhile, so one connection can have many sends
    /// in flight.
    private func send(_ request: Request) {
        guard case let .send(recipient, identity, envelope) = request.body else { return }
        guard let sender = account?.username else {
            reply(request.id, .error(WireError(.notAuthenticated, "log in first")))
            return
        }
        let bytes = min(envelope.count, deps.configuration.maxInFlightSendBytesPerConnection)
        inFlight += 1
        inFlightBytes += bytes
        let draft = MailboxEnvelopeDraft(sender: sender, recipient: recipient, recipientIdentity: identity, payload: envelope, acceptedAt: deps.clock.now())
        let logger = self.logger
        let requestID = request.id
        deps.batcher.submit(draft) { [self] result in
            let body: Response.Body
            switch result {
            case .success(.accepted(let stored)):
                body = .accepted(envelopeID: stored.id, acceptedAt: stored.acceptedAt)
            case .success(.refused(let refusal)):
                body = .error(RequestHandlers.wireError(for: refusal, recipient: recipient))
            case .failure(let error):
                logger.error("mailbox commit failed", metadata: ["error": "\(error)"])
                // Whatever the failure, nothing of the batch was stored: worth sending again.
                body = .error(WireError(.unavailable, "storage unavailable: the server could not store the message; try again"))
            }
            queueAnswer(Answer(frame: WireCodec.encode(.response(Response(requestID: requestID, body: body))), bytes: bytes))
        }
    }

    /// Hands `ids` to the mailbox writer, which deletes them in its next transaction; answered
    /// once that has committed.
    private func acknowledge(_ ids: [UInt64], requestID: UInt32) {
        guard let user = account?.username else {
            reply(requestID, .error(WireError(.notAuthenticated, "log in first")))
            return
        }
        inFlight += 1
        let id = connection.id
        let logger = self.logger
        deps.batcher.acknowledge(ids, for: user) { [self] result in
            let body: Response.Body
            switch result {
            case .success: body = .ok
            case .failure(let error): body = Self.answer(for: error, connection: id, logger: logger)
            }
            queueAnswer(Answer(frame: WireCodec.encode(.response(Response(requestID: requestID, body: body))), bytes: 0))
        }
    }

    /// Queues an answer; the caller that finds no drain running starts one on the context.
    /// Called on the writer.
    private func queueAnswer(_ answer: Answer) {
        if answers.withLock({ $0.append(answer) }) { connection.execute { self.writeAnswers() } }
    }

    /// Writes every queued answer (one flush for all, at the end of this block), gives their room
    /// back, and takes the held send or more frames if there is room now.
    private func writeAnswers() {
        while true {
            let batch = answers.withLock { $0.take() }
            guard !batch.isEmpty else { break }
            for answer in batch {
                inFlight -= 1
                inFlightBytes -= answer.bytes
                connection.write(answer.frame)
            }
        }
        guard !isClosed else { return }
        if let held = heldSend, case .send(_, _, let envelope) = held.body, fitsInFlight(envelope.count) {
            heldSend = nil
            send(held)
        }
        resumeIfReady()
    }

    // MARK: Sessions and delivery

    private func startSession(_ authenticated: AuthenticatedAccount) {
        let newToken = SessionToken(rawValue: UInt64(deps.random.uint32()) << 32 | UInt64(deps.random.uint32()))
        account = authenticated
        token = newToken
        lastPushedID = 0
        sessionCount.add(1)
        loginDeadline?.cancel()
        loginDeadline = nil
        // Subscribe before announcing, so nothing stored from now on can be missed.
        let generation = events.withLock { $0.reset() }
        subscription = deps.events.subscribe(authenticated.username) { [weak self] event in
            self?.queueEvent(event, generation: generation)
        }
        // One session per account: the newest login wins, every other session ends.
        deps.events.publish(.sessionClaimed(newToken), to: authenticated.username)
    }

    private func endSession() {
        if account != nil { sessionCount.add(-1) }
        account = nil
        token = nil
        subscription?.cancel()
        subscription = nil
        pausedDelivery = nil
        _ = events.withLock { $0.reset() }
        armLoginDeadline()
    }

    /// The login deadline runs whenever no account is logged in on the connection: from the
    /// handshake, and again from every logout, so that one account cannot log in, log out and keep
    /// the connection (and its slot) forever. While logged in there is no timer at all.
    private func armLoginDeadline() {
        guard !isClosed, account == nil, loginDeadline == nil else { return }
        loginDeadline = connection.schedule(after: deps.configuration.loginDeadline) { [self] in
            loginDeadline = nil
            guard !isClosed, account == nil else { return }
            // Without an account only a login or a registration can be running: let its answer
            // decide, rather than close under a password check that a loaded server is slow at.
            if requestRunning {
                deadlinePassed = true
                return
            }
            closeForMissedDeadline()
        }
    }

    private func closeForMissedDeadline() {
        logger.info("closing a connection that did not log in", metadata: ["connection": "\(connection.id)"])
        connection.close()
    }

    /// Pushes what is waiting in the mailbox, a page at a time, then follows the account's events.
    private func beginDelivery() {
        guard let user = account?.username, subscription != nil else { return }
        catchUp(user, generation: events.withLock { $0.generation })
    }

    /// Reads the next catch-up page off the context and pushes it when it comes back.
    private func catchUp(_ user: Username, generation: UInt64) {
        guard isCurrent(generation), account?.username == user else { return }
        let handlers = self.handlers
        let after = lastPushedID
        let pageSize = deps.configuration.catchUpPageSize
        deps.work.run {
            let page = try? await handlers.pending(for: user, after: after, limit: pageSize)
            self.connection.execute { self.caughtUp(page, user: user, generation: generation, pageSize: pageSize) }
        }
    }

    private func caughtUp(_ page: [MailboxEnvelope]?, user: Username, generation: UInt64, pageSize: Int) {
        guard !isClosed, isCurrent(generation), account?.username == user else { return }
        guard let page else {
            startEvents(generation: generation)
            return
        }
        // A page is written with one flush, not one per envelope.
        deliver(page)
        guard page.count == pageSize else {
            startEvents(generation: generation)
            return
        }
        if connection.isWritable {
            catchUp(user, generation: generation)
        } else {
            pausedDelivery = .catchUp(user: user, generation: generation)
        }
    }

    private func isCurrent(_ generation: UInt64) -> Bool {
        events.withLock { $0.generation } == generation
    }

    /// Catch-up is done: events stored meanwhile were queued; from now on they are handled as
    /// they come.
    private func startEvents(generation: UInt64) {
        let start = events.withLock { queue -> Bool in
            guard queue.generation == generation else { return false }
            queue.delivering = true
            return queue.events.claim()
        }
        if start { drainEvents(generation: generation) }
    }

    /// Called by the event bus, on the publisher's thread.
    private func queueEvent(_ event: AccountEvent, generation: UInt64) {
        let start = events.withLock { queue -> Bool in
            guard queue.generation == generation else { return false }
            return queue.events.append(event, startAllowed: queue.delivering)
        }
        if start { connection.execute { self.drainEvents(generation: generation) } }
    }

    /// Handles queued events in order until none is left, the subscription has ended, or the peer
    /// stops reading (then the turn is kept and resumed when it reads again).
    private func drainEvents(generation: UInt64) {
        while !isClosed {
            guard connection.isWritable else {
                pausedDelivery = .events(generation: generation)
                return
            }
            let batch = events.withLock { queue -> [AccountEvent] in
                // A later generation owns the queue (and its turn); this drain just stops.
                guard queue.generation == generation else { return [] }
                return queue.events.take()
            }
            guard !batch.isEmpty else { return }
            for event in batch {
                guard !isClosed, isCurrent(generation) else { return }
                handle(event)
            }
        }
    }

    /// Pushes the envelopes not pushed yet, in order; later events skip them.
    private func deliver(_ envelopes: [MailboxEnvelope]) {
        for envelope in envelopes where envelope.id > lastPushedID {
            lastPushedID = envelope.id
            connection.write(Self.deliveryFrame(envelope))
        }
    }

    private static func deliveryFrame(_ envelope: MailboxEnvelope) -> [UInt8] {
        WireCodec.encode(.push(.delivery(Delivery(id: envelope.id, sender: envelope.sender, acceptedAt: envelope.acceptedAt, envelope: envelope.payload))))
    }

    private func push(_ push: Push) {
        connection.write(WireCodec.encode(.push(push)))
    }

    private func handle(_ event: AccountEvent) {
        switch event {
        case .envelopesStored(let envelopes):
            // The batch's deliveries for this account, written together (one flush).
            deliver(envelopes)
        case .sessionClaimed(let claimant):
            guard claimant != token else { return }
            logger.info("signed in elsewhere", metadata: ["connection": "\(connection.id)"])
            push(.signedInElsewhere)
            endSession()
            connection.close()
        case .prekeysLow(let remaining):
            push(.prekeysLow(remaining: remaining))
        case .accountDeleted:
            endSession()
            connection.close()
        }
    }
}
