import Conversations
import Envelope
import Prekeys
import Primitives
import WireProtocol

/// The stores one account's client works with (all sealed at rest by the SQLite adapter).
public struct ClientStores: Sendable {
    public let keys: any LocalKeyStore
    public let sessions: any SessionStore
    public let contacts: any ContactStore
    public let history: any HistoryStore
    public let settings: any ClientSettingsStore
    public let images: any ImageLibrary

    public init(keys: any LocalKeyStore, sessions: any SessionStore, contacts: any ContactStore, history: any HistoryStore, settings: any ClientSettingsStore, images: any ImageLibrary) {
        self.keys = keys
        self.sessions = sessions
        self.contacts = contacts
        self.history = history
        self.settings = settings
        self.images = images
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
    let random: any RandomSource
    let clock: any Clock
    let imageValidator: any ImageValidator
    let cipher: SessionCipher

    /// The logged-in account, once ``register(username:password:)`` or ``logIn(username:password:)`` succeeded.
    public internal(set) var username: Username?
    var identity: Ed25519KeyPair?
    /// How many deliveries this client has processed since it started.
    public internal(set) var deliveriesHandled = 0
    /// Delivery ids stored but not yet acknowledged to the server.
    var pendingAcknowledgements: [UInt64] = []
    /// Whether an acknowledge request is in flight.
    var acknowledging = false

    private let eventContinuation: AsyncStream<ClientEvent>.Continuation
    /// What happens while the client runs: arrivals, receipts, warnings. Finishes on close.
    public nonisolated let events: AsyncStream<ClientEvent>

    public init(
        wire: WireClient, stores: ClientStores, crypto: any CryptoProvider, random: any RandomSource,
        clock: any Clock, imageValidator: any ImageValidator
    ) {
        self.wire = wire
        self.stores = stores
        self.crypto = crypto
        self.random = random
        self.clock = clock
        self.imageValidator = imageValidator
        cipher = SessionCipher(crypto: crypto, random: random)
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
    func stored<T>(_ body: () throws -> T) throws(ClientError) -> T {
        do { return try body() } catch let error as StoreError { throw .storage(error) } catch {
            throw .storage(.unavailable("\(error)"))
        }
    }

    func now() -> Timestamp { clock.now() }
}
