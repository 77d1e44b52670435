import Dispatch
import Logging
import NIOCore
import PostgresNIO
import Primitives
import ServerCore

/// ``AccountEventBus`` for several nodes on one PostgreSQL database, over `LISTEN`/`NOTIFY`.
///
/// Each node holds one listener connection (`LISTEN` on the fixed channel ``channel``). Events
/// reach the node's own subscribers at once, as with `InMemoryEventBus`; the other nodes learn of
/// them through `NOTIFY`:
/// - mail: the mailbox transaction itself `pg_notify`s every recipient it wrote to (so the hint is
///   sent if and only if the envelopes committed). A hint carries no envelopes, only the name: the
///   node holding that user's connection reads the mailbox after the last id it delivered and
///   publishes what it finds. The node's *own* mail events are handled the same way (the
///   envelopes in the event are not trusted to be the next ones: another node may have committed
///   an earlier id for the same recipient whose hint is still in flight, and sessions drop ids
///   below the last one pushed), so a subscriber always sees a user's mail in id order, nothing
///   skipped.
/// - session claims ("newest login wins"): delivered locally at once, then written to
///   `session_owners` (the account's owning token and node, and a generation bumped by every
///   claim) in a transaction that also sends the `NOTIFY`. A node takes a claim hint as a cue to
///   read that row: it delivers `.sessionClaimed(owner)` to its subscribers when the row's
///   generation is newer than any it has applied, so its sessions with another token end. The
///   row, not the hint, decides: of two logins on two nodes at once, the one written last wins
///   on both (with hints applied blindly, each would end the other). A check is deferred while
///   this node's own claim for the account is not yet written (the local claim will be newer),
///   and made again once it is.
/// - low prekeys and deletions: sent as a `NOTIFY` after the local delivery (best-effort).
///
/// NOTIFY is only a hint. While the listener is disconnected hints are lost, so after every
/// (re)connection the bus rescans the mailbox of every user with a subscriber on this node, and
/// re-reads their session owners: a session claimed on another node meanwhile ends, and so does
/// one whose account was deleted (the deletion leaves a tombstone in the owner row, in its
/// transaction). A claim this node could not write (the database unreachable) is retried until it is.
///
/// Database work (reading a mailbox, sending a NOTIFY) runs on the bus's own serial queues, never
/// on the publisher's thread nor an event loop; `publish` never blocks.
public final class PostgresEventBus: AccountEventBus {
    /// The one channel every node listens on. A constant: postgres-nio interpolates the channel of
    /// `LISTEN` into SQL unescaped.
    public static let channel = "parley_events"

    private typealias Handler = @Sendable (AccountEvent) -> Void

    private struct State {
        var nextID: UInt64 = 0
        var subscribers: [Username: [UInt64: Handler]] = [:]
        /// Per subscribed user, the highest envelope id the bus has delivered (nil: none yet).
        var cursors: [Username: UInt64] = [:]
        /// Users whose mailbox must be read, coalesced until the reader runs.
        var dirty: Set<Username> = []
        var readerScheduled = false
        var listener: PostgresConnection?
        var closed = false
        var connections = 0
        /// Per user with a local claim in flight or a claim applied, see ``ClaimState``.
        var claims: [Username: ClaimState] = [:]
    }

    /// What the bus knows of one user's session owner.
    private struct ClaimState {
        /// Bumped by every local claim and by the end of its write: a check whose read began at
        /// another epoch may predate a local claim, and is made again instead of applied.
        var epoch: UInt64 = 0
        /// The newest local claim not yet written to `session_owners`.
        var unwritten: SessionToken?
        /// The newest owner generation applied here (this node's own write, or a check).
        var applied: Int64 = 0
        /// A check was deferred while a local claim was unwritten: make it once written.
        var recheck = false
    }

    private let store: PostgresServerStore
    private let nodeID: String
    private let logger: Logger
    private let reconnectDelay: DispatchTimeInterval
    private let state = LockedValue(State())
    /// Reads mailboxes and delivers what it finds, one user at a time, in hint order.
    private let reader = DispatchQueue(label: "parley.events.reader")
    /// Sends this node's non-mail events to the others.
    private let outbox = DispatchQueue(label: "parley.events.outbox")
    private let listenerLoop = DispatchQueue(label: "parley.events.listener")
    private let stopped = DispatchSemaphore(value: 0)

    /// A page of the mailbox read per hint; a longer queue is read in several.
    static let pageSize = 256

    /// Starts listening, in the background, on `store`'s database (reconnecting after
    /// `reconnectDelay` whenever the connection is lost) as `store.nodeID`.
    public init(store: PostgresServerStore, reconnectDelay: DispatchTimeInterval = .seconds(1), logger: Logger = Logger(label: "parley.events")) {
        self.store = store
        self.nodeID = store.nodeID
        self.logger = logger
        self.reconnectDelay = reconnectDelay
        listenerLoop.async { [self] in listen() }
    }

    /// How many times the listener has connected and sent `LISTEN` (a reconnection raises it).
    public var listenerConnections: Int { state.withLock { $0.connections } }

    /// Whether a claim published here for `user` is not yet written to `session_owners`.
    func hasUnwrittenClaim(for user: Username) -> Bool {
        state.withLock { $0.claims[user]?.unwritten != nil }
    }

    /// Stops listening and closes the listener connection; returns when the listener loop ended.
    /// Events published afterwards reach this node's subscribers only.
    public func close() {
        let listener = state.withLock { state in
            state.closed = true
            return state.listener
        }
        _ = try? listener?.close().wait()
        stopped.wait()
        outbox.sync {}
        reader.sync {}
    }

    // MARK: AccountEventBus

    public func publish(_ event: AccountEvent, to user: Username) {
        switch event {
        case .envelopesStored:
            markDirty(user)
        case .sessionClaimed(let token):
            state.withLock { state in
                state.claims[user, default: ClaimState()].epoch += 1
                state.claims[user]?.unwritten = token
                Self.deliver(.sessionClaimed(token), to: user, in: state)
            }
            outbox.async { [self] in writeClaim(of: user) }
        case .prekeysLow, .accountDeleted:
            deliverLocally(event, to: user)
            guard let payload = Self.payload(event, to: user, from: nodeID) else { return }
            outbox.async { [self] in
                do {
                    try store.pool.withSession { session throws(StoreError) in
                        try session.execute("SELECT pg_notify(\(Self.channel), \(payload))")
                    }
                } catch {
                    logger.warning("could not tell the other nodes of an event", metadata: ["user": "\(user)", "error": "\(error)"])
                }
            }
        }
    }

    public func subscribe(_ user: Username) -> AccountEventSubscription {
        let (stream, continuation) = AsyncStream<AccountEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = add({ event in continuation.yield(event) }, for: user)
        return AccountEventSubscription(events: stream) { [weak self] in
            self?.remove(id, for: user)
            continuation.finish()
        }
    }

    public func subscribe(_ user: Username, handler: @escaping @Sendable (AccountEvent) -> Void) -> AccountEventHandlerSubscription {
        let id = add(handler, for: user)
        return AccountEventHandlerSubscription { [weak self] in self?.remove(id, for: user) }
    }

    private func add(_ handler: @escaping Handler, for user: Username) -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            state.subscribers[user, default: [:]][state.nextID] = handler
            return state.nextID
        }
    }

    private func remove(_ id: UInt64, for user: Username) {
        state.withLock { state in
            state.subscribers[user]?.removeValue(forKey: id)
            if state.subscribers[user]?.isEmpty == true {
                state.subscribers[user] = nil
                state.cursors[user] = nil
                if state.claims[user]?.unwritten == nil { state.claims[user] = nil }
            }
        }
    }

    /// Called under the lock, so that a cancelled subscription's handler is never called after
    /// `cancel()` returned (handlers only queue the event, as the port asks).
    private func deliverLocally(_ event: AccountEvent, to user: Username) {
        state.withLock { state in Self.deliver(event, to: user, in: state) }
    }

    private static func deliver(_ event: AccountEvent, to user: Username, in state: State) {
        guard let handlers = state.subscribers[user] else { return }
        for handler in handlers.values { handler(event) }
    }

    // MARK: Session owners

    /// Writes `user`'s newest unwritten local claim (on the outbox queue) and tells the other
    /// nodes in the same transaction; retried after `reconnectDelay` while the database fails.
    /// A retry after a commit whose answer was lost finds its own token in the row and leaves
    /// it (and the generation) as it is.
    private func writeClaim(of user: Username) {
        guard let token = state.withLock({ $0.closed ? nil : $0.claims[user]?.unwritten }) else { return }
        let generation: Int64
        do {
            generation = try store.pool.transaction { session throws(StoreError) -> Int64 in
                let rows = try session.query(
                    """
                    INSERT INTO session_owners AS owner (username, token, node, generation)
                    VALUES (\(user.value), \(Int64(bitPattern: token.rawValue)), \(nodeID), 1)
                    ON CONFLICT (username) DO UPDATE
                    SET token = excluded.token, node = excluded.node, generation = owner.generation + 1
                    WHERE owner.token IS DISTINCT FROM excluded.token
                    RETURNING generation
                    """)
                guard let row = rows.first else {
                    // Already this claim's: an earlier attempt committed (and notified).
                    let rows = try session.query("SELECT generation FROM session_owners WHERE username = \(user.value)")
                    guard let row = rows.first else { throw .corrupt("the session owner of \(user) was not written") }
                    return try row.value(Int64.self)
                }
                let generation = try row.value(Int64.self)
                if let payload = Self.payload(.sessionClaimed(token), to: user, from: nodeID) {
                    try session.execute("SELECT pg_notify(\(Self.channel), \(payload))")
                }
                return generation
            }
        } catch {
            logger.warning("could not record a session claim; retrying", metadata: ["user": "\(user)", "error": "\(error)"])
            outbox.asyncAfter(deadline: .now() + reconnectDelay) { [self] in writeClaim(of: user) }
            return
        }
        let recheck = state.withLock { state -> Bool in
            guard var claim = state.claims[user] else { return false }
            claim.epoch += 1
            claim.applied = max(claim.applied, generation)
            if claim.unwritten == token { claim.unwritten = nil }
            let recheck = claim.recheck && claim.unwritten == nil
            if recheck { claim.recheck = false }
            state.claims[user] = state.subscribers[user] == nil && claim.unwritten == nil ? nil : claim
            return recheck
        }
        if recheck { reader.async { [self] in checkOwners(of: [user]) } }
    }

    /// Reads the session owners of those of `users` with a subscriber here, and delivers what
    /// changed since the generation applied: `.sessionClaimed(owner)`, or `.accountDeleted` for
    /// the account's tombstone (the row of a deleted account has no token). Runs on the reader
    /// queue, in order with the other hints; a failed read is tried again a few times (right
    /// after a reconnection the pool may still hold connections the outage broke).
    private func checkOwners(of users: [Username], attempt: Int = 1) {
        let started = state.withLock { state -> [Username: UInt64] in
            var started: [Username: UInt64] = [:]
            for user in users where state.subscribers[user] != nil {
                if state.claims[user]?.unwritten != nil {
                    state.claims[user]?.recheck = true
                } else {
                    started[user] = state.claims[user]?.epoch ?? 0
                }
            }
            return started
        }
        guard !started.isEmpty else { return }
        let names = started.keys.map(\.value).sorted()
        var owners: [Username: (token: Int64?, generation: Int64)] = [:]
        do {
            try store.pool.withSession { session throws(StoreError) in
                let rows = try session.query("SELECT username, token, generation FROM session_owners WHERE username = ANY(\(names)::text[])")
                for row in rows {
                    let (name, token, generation) = try row.values((String, Int64?, Int64).self)
                    owners[try PostgresDecoding.username(name)] = (token, generation)
                }
            }
        } catch {
            logger.warning("could not read session owners", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
            // Past that, the listener's next reconnection checks again.
            if attempt < 10, !state.withLock({ $0.closed }) {
                reader.asyncAfter(deadline: .now() + reconnectDelay) { [self] in checkOwners(of: users, attempt: attempt + 1) }
            }
            return
        }
        let again = state.withLock { state -> [Username] in
            var again: [Username] = []
            for (user, epoch) in started {
                guard state.subscribers[user] != nil, let owner = owners[user] else { continue }
                // A local claim (or the end of its write) came between the read and now: the read
                // may be older than that claim.
                guard (state.claims[user]?.epoch ?? 0) == epoch else {
                    again.append(user)
                    continue
                }
                guard owner.generation > (state.claims[user]?.applied ?? 0) else { continue }
                state.claims[user, default: ClaimState()].applied = owner.generation
                let event: AccountEvent = owner.token.map { .sessionClaimed(SessionToken(rawValue: UInt64(bitPattern: $0))) } ?? .accountDeleted
                Self.deliver(event, to: user, in: state)
            }
            return again
        }
        if !again.isEmpty { reader.async { [self] in checkOwners(of: again) } }
    }

    // MARK: Reading mailboxes on hints

    private func markDirty(_ user: Username) {
        let schedule = state.withLock { state -> Bool in
            guard state.subscribers[user] != nil else { return false }
            state.dirty.insert(user)
            guard !state.readerScheduled else { return false }
            state.readerScheduled = true
            return true
        }
        if schedule { reader.async { [self] in readDirtyMailboxes() } }
    }

    private func markAllSubscribedDirty() {
        let users = state.withLock { Array($0.subscribers.keys) }
        for user in users { markDirty(user) }
    }

    private func readDirtyMailboxes() {
        while true {
            let user = state.withLock { state -> Username? in
                guard let user = state.dirty.popFirst() else {
                    state.readerScheduled = false
                    return nil
                }
                return user
            }
            guard let user else { return }
            readMailbox(of: user)
        }
    }

    /// Delivers `user`'s envelopes after the bus's cursor, in id order, page by page. Ids of one
    /// recipient increase in commit order (see `PostgresMailboxStore`), so what a read returns is
    /// complete up to its last id and the cursor can move there.
    private func readMailbox(of user: Username) {
        var pages = 0
        while pages < 64 {
            pages += 1
            guard let subscribed = state.withLock({ state -> UInt64?? in
                state.subscribers[user] == nil ? nil : .some(state.cursors[user])
            }) else { return }
            let page: [MailboxEnvelope]
            do {
                page = try store.mailbox.pending(for: user, after: subscribed, limit: Self.pageSize)
            } catch {
                logger.warning("could not read a mailbox after a hint", metadata: ["user": "\(user)", "error": "\(error)"])
                return
            }
            guard let last = page.last else { return }
            state.withLock { state in
                guard let handlers = state.subscribers[user] else { return }
                // A subscriber that left and came back meanwhile starts from nil again: deliver
                // only beyond what this subscription generation has seen.
                let fresh = page.filter { $0.id > (state.cursors[user] ?? 0) }
                state.cursors[user] = max(state.cursors[user] ?? 0, last.id)
                guard !fresh.isEmpty else { return }
                for handler in handlers.values { handler(.envelopesStored(fresh)) }
            }
            if page.count < Self.pageSize { return }
        }
    }

    // MARK: The listener

    private func listen() {
        defer { stopped.signal() }
        while !state.withLock({ $0.closed }) {
            do {
                let connection = try store.pool.connectDedicated(label: "listener")
                let registered = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.listener = connection
                    return true
                }
                guard registered else {
                    _ = try? connection.close().wait()
                    return
                }
                connection.addListener(channel: Self.channel) { [weak self] _, notification in
                    // On the connection's event loop: hand over, never block here.
                    guard let self else { return }
                    let payload = notification.payload
                    reader.async { [self] in received(payload) }
                }
                _ = try connection.query("LISTEN parley_events", logger: logger).wait()
                state.withLock { $0.connections += 1 }
                logger.info("listening for other nodes' events", metadata: ["node": "\(nodeID)"])
                // Hints sent while not listening are lost: read every subscribed mailbox and session
                // owner, and write the claims that could not be written.
                markAllSubscribedDirty()
                let (subscribed, unwritten) = state.withLock { state in
                    (Array(state.subscribers.keys), state.claims.filter { $0.value.unwritten != nil }.map(\.key))
                }
                reader.async { [self] in checkOwners(of: subscribed) }
                for user in unwritten { outbox.async { [self] in writeClaim(of: user) } }
                try? connection.closeFuture.wait()
                state.withLock { $0.listener = nil }
            } catch {
                logger.warning("event listener disconnected", metadata: ["error": "\(error)"])
            }
            if state.withLock({ $0.closed }) { return }
            Thread_sleep(reconnectDelay)
        }
    }

    private func received(_ payload: String) {
        guard let hint = Self.parse(payload), hint.node != nodeID else { return }
        switch hint.event {
        case .none: markDirty(hint.user)
        // The owner row decides, not the hint (see the type's notes).
        case .sessionClaimed?: checkOwners(of: [hint.user])
        case .some(let event): deliverLocally(event, to: hint.user)
        }
    }

    // MARK: Payloads

    /// `m <node> <user>`: mail for `user` was committed by `node`.
    static func mailHint(for user: Username, from node: String) -> String {
        "m \(node) \(user.value)"
    }

    static func payload(_ event: AccountEvent, to user: Username, from node: String) -> String? {
        switch event {
        case .envelopesStored: mailHint(for: user, from: node)
        case .sessionClaimed(let token): "c \(node) \(user.value) \(token.rawValue)"
        case .prekeysLow(let remaining): "p \(node) \(user.value) \(remaining)"
        case .accountDeleted: "d \(node) \(user.value)"
        }
    }

    /// The hint in `payload`; `event` is nil for mail (read the mailbox). Nil for a payload this
    /// build does not understand (a newer node's), which is ignored.
    static func parse(_ payload: String) -> (node: String, user: Username, event: AccountEvent?)? {
        let fields = payload.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 3, let user = try? Username(String(fields[2])) else { return nil }
        let node = String(fields[1])
        switch (fields[0], fields.count) {
        case ("m", 3): return (node, user, nil)
        case ("d", 3): return (node, user, .accountDeleted)
        case ("c", 4):
            guard let token = UInt64(fields[3]) else { return nil }
            return (node, user, .sessionClaimed(SessionToken(rawValue: token)))
        case ("p", 4):
            guard let remaining = UInt32(fields[3]) else { return nil }
            return (node, user, .prekeysLow(remaining: remaining))
        default: return nil
        }
    }
}

/// Sleeps the calling thread (the listener's own queue only).
private func Thread_sleep(_ interval: DispatchTimeInterval) {
    _ = DispatchSemaphore(value: 0).wait(timeout: .now() + interval)
}
