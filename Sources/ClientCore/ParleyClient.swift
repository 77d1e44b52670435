import Conversations
import Envelope
import Prekeys
import Primitives
import WireProtocol

/// The stores one account's client works with (all sealed at rest by the SQLite adapter).
///
/// A single read or write goes to a store directly; changes that belong together (everything one
/// delivery changes, a sent message's history entry and log entry) go through ``unitOfWork``.
public struct ClientStores: Sendable {
    public let keys: any LocalKeyStore
    public let sessions: any SessionStore
    public let contacts: any ContactStore
    public let history: any HistoryStore
    public let settings: any ClientSettingsStore
    public let sentLog: any SentMessageLog
    /// The sealed image files the history refers to.
    public let imageBlobs: any ImageBlobStore
    /// Images the person saved in clear (by hand, or with the `save-images` setting).
    public let images: any ImageLibrary
    /// The durable event stream (the daemon's `subscribe` reads it from a cursor).
    public let eventLog: any EventLog
    /// One transaction over all of the above but ``imageBlobs`` and ``images`` (files are written
    /// before a transaction and removed if it fails).
    public let unitOfWork: any ClientUnitOfWork

    public init(
        keys: any LocalKeyStore, sessions: any SessionStore, contacts: any ContactStore, history: any HistoryStore,
        settings: any ClientSettingsStore, sentLog: any SentMessageLog, imageBlobs: any ImageBlobStore, images: any ImageLibrary,
        eventLog: any EventLog,
        unitOfWork: any ClientUnitOfWork
    ) {
        self.keys = keys
        self.sessions = sessions
        self.contacts = contacts
        self.history = history
        self.settings = settings
        self.sentLog = sentLog
        self.imageBlobs = imageBlobs
        self.images = images
        self.eventLog = eventLog
        self.unitOfWork = unitOfWork
    }
}

/// The client application: one account's use cases over a connection to the server.
///
/// It drives the domain (X3DH, the ratchet, contacts, history) through its ports and keeps no
/// state of its own beyond the logged-in user: everything lasting is in the stores, so history
/// survives logout and restarts. An actor, so that deliveries and user commands never interleave
/// inside one session's ratchet.
public actor ParleyClient {
    let wire: WireClient
    let stores: ClientStores
    let crypto: any CryptoProvider
    let kem: any KEMProvider
    let random: any RandomSource
    let clock: any Clock
    let imageValidator: any ImageValidator
    let cipher: SessionCipher

    /// The logged-in account, once ``register(username:password:)`` or ``logIn(username:password:)`` succeeded.
    public internal(set) var username: Username?
    var identity: Ed25519KeyPair?
    /// How many deliveries this client has handled since it started: stored, known unreadable,
    /// or deferred after a storage error (each counted once, however often it is retried).
    public internal(set) var deliveriesHandled = 0
    /// Delivery ids stored but not yet acknowledged to the server; drained by one task at a
    /// time, which sends an acknowledge request per batch.
    var acknowledgements = DrainQueue<UInt64>()
    /// Deliveries that could not be saved (a storage error), oldest first, to be tried again on
    /// the next push or ``retryDeferredDeliveries()``; never acknowledged until saved.
    var deferredDeliveries: [Delivery] = []
    /// Deliveries this client already asked the sender to send again (one retry request each).
    var retryRequestedDeliveries = Set<UInt64>()
    /// Whether ``resendPendingMessages()`` is running (one at a time).
    var resending = false
    /// Whether the sent log may hold an entry marked for a resend: true until the first look
    /// (a crash may have left one), then only after a mark or a failed resend.
    var resendsMayBePending = true
    /// Whether a later attempt at deferred deliveries and pending resends is scheduled.
    var retryScheduled = false
    /// Callers of ``waitUntilHandled(_:timeout:)``, by id: resumed when ``deliveriesHandled``
    /// reaches their count, at their deadline, or when the connection ends.
    var deliveryWaiters: [UInt64: (count: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
    var nextWaiterID: UInt64 = 0
    /// Whether the push loop ended (the connection closed): nothing more will be handled.
    var pushesEnded = false

    private let eventContinuation: AsyncStream<ClientEvent>.Continuation
    /// What happens while the client runs: arrivals, receipts, warnings. Finishes on close.
    public nonisolated let events: AsyncStream<ClientEvent>

    public init(
        wire: WireClient, stores: ClientStores, crypto: any CryptoProvider, kem: any KEMProvider, random: any RandomSource,
        clock: any Clock, imageValidator: any ImageValidator
    ) {
        self.wire = wire
        self.stores = stores
        self.crypto = crypto
        self.kem = kem
        self.random = random
        self.clock = clock
        self.imageValidator = imageValidator
        cipher = SessionCipher(crypto: crypto, kem: kem, random: random)
        (events, eventContinuation) = AsyncStream<ClientEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
    }

    func emit(_ event: ClientEvent) {
        eventContinuation.yield(event)
    }

    /// Ends the event stream (the UI stops listening).
    public func finishEvents() {
        eventContinuation.finish()
    }

    // MARK: Plumbing shared by the use cases

    /// Sends a request and returns the answer, turning a server refusal into ``ClientError/refused(_:)``.
    func call(_ body: Request.Body) async throws(ClientError) -> Response.Body {
        let response: Response.Body
        do { response = try await wire.request(body) } catch { throw .connection(error) }
        if case .error(let error) = response { throw .refused(error) }
        return response
    }

    func requireSession() throws(ClientError) -> (Username, Ed25519KeyPair) {
        guard let username, let identity else { throw .notLoggedIn }
        return (username, identity)
    }

    /// Runs a store call, mapping its failure to ``ClientError/storage(_:)``.
    @discardableResult
    func stored<T>(_ body: () throws(StoreError) -> T) throws(ClientError) -> T {
        do { return try body() } catch { throw .storage(error) }
    }

    /// Runs `body` as one transaction over the client's stores (``ClientUnitOfWork``).
    @discardableResult
    func transaction<T: Sendable>(_ body: (ClientTransaction) throws(StoreError) -> T) throws(ClientError) -> T {
        do { return try stores.unitOfWork.perform(body) } catch { throw .storage(error) }
    }

    func now() -> Timestamp { clock.now() }

    /// Seals and opens the history's images in ``ClientStores/imageBlobs``.
    var imageSealer: ImageSealer { ImageSealer(crypto: crypto, random: random, blobs: stores.imageBlobs) }
}

extension ParleyClient {
    /// The account's durable event log (read by the daemon's subscribers from a cursor).
    public nonisolated var eventLog: any EventLog { stores.eventLog }
}
