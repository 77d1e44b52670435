import Primitives
import SecureChannel
import Synchronization
import WireProtocol

/// Why a request to the server did not get an answer.
public enum ClientConnectionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The connection closed (or failed) before the answer arrived.
    case disconnected(reason: String)
    /// The server did not answer within the request timeout.
    case timedOut(seconds: Int)
    /// The server sent something that is not valid wire protocol.
    case protocolViolation(reason: String)

    public var description: String {
        switch self {
        case .disconnected(let reason): "the connection to the server closed: \(reason)"
        case .timedOut(let seconds): "the server did not answer within \(seconds) s"
        case .protocolViolation(let reason): "the server sent something unreadable: \(reason)"
        }
    }
}

/// The client's side of the wire protocol over one secure connection: sends requests, matches
/// responses to them by id, and hands out the server's pushes in order.
public final class WireClient: Sendable {
    private struct State {
        var nextID: UInt32 = 1
        var waiting: [UInt32: CheckedContinuation<Response.Body, any Error>] = [:]
        var closedReason: String?
    }

    private let connection: any FrameConnection
    private let state = Mutex(State())
    private let pushContinuation: AsyncStream<Push>.Continuation
    /// The server's pushes (deliveries, "signed in elsewhere", prekeys low), in arrival order.
    /// Finishes when the connection closes.
    public let pushes: AsyncStream<Push>
    private let requestTimeout: Duration

    /// Wraps a connection. Call ``run(inbound:)`` (typically in a child task) to process what
    /// arrives.
    public init(connection: any FrameConnection, requestTimeout: Duration = .seconds(30)) {
        self.connection = connection
        self.requestTimeout = requestTimeout
        (pushes, pushContinuation) = AsyncStream<Push>.makeStream(bufferingPolicy: .unbounded)
    }

    /// The server's static public key as proved by the Noise handshake.
    public var serverKey: X25519PublicKey { connection.remoteStaticKey }

    /// Reads frames until the connection ends, resolving responses and queueing pushes. When it
    /// returns, every waiting request has failed with ``ClientConnectionError/disconnected(reason:)``.
    public func run(inbound: InboundFrames) async {
        var reason = "closed by the server"
        do {
            for try await frame in inbound {
                switch try? WireCodec.decode(frame) {
                case .response(let response)?:
                    let waiter = state.withLock { $0.waiting.removeValue(forKey: response.requestID) }
                    waiter?.resume(returning: response.body)
                case .push(let push)?:
                    pushContinuation.yield(push)
                case .request?, nil:
                    reason = "the server sent an unreadable frame"
                    await connection.close()
                }
            }
        } catch {
            reason = "\(error)"
        }
        fail(reason: reason)
    }

    /// Sends `body` and waits for its response.
    /// - Throws: ``ClientConnectionError``; a server-side refusal is a normal `.error` response.
    public func request(_ body: Request.Body) async throws(ClientConnectionError) -> Response.Body {
        let id: UInt32
        switch state.withLock({ state -> Result<UInt32, ClientConnectionError> in
            if let reason = state.closedReason { return .failure(.disconnected(reason: reason)) }
            defer { state.nextID &+= 1 }
            return .success(state.nextID)
        }) {
        case .success(let value): id = value
        case .failure(let error): throw error
        }
        let frame = WireCodec.encode(.request(Request(id: id, body: body)))
        let timeout = requestTimeout
        do {
            return try await withThrowingTaskGroup(of: Response.Body.self) { group in
                group.addTask {
                    try await withCheckedThrowingContinuation { continuation in
                        let rejected = self.state.withLock { state -> String? in
                            if let reason = state.closedReason { return reason }
                            state.waiting[id] = continuation
                            return nil
                        }
                        if let rejected { continuation.resume(throwing: ClientConnectionError.disconnected(reason: rejected)) }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw ClientConnectionError.timedOut(seconds: Int(timeout.components.seconds))
                }
                do {
                    try await connection.send(frame)
                } catch {
                    fail(reason: "\(error)")
                }
                guard let first = try await group.next() else { throw ClientConnectionError.disconnected(reason: "no answer") }
                group.cancelAll()
                return first
            }
        } catch let error as ClientConnectionError {
            // A timed-out waiter must not linger: drop it so a late answer is ignored.
            if let waiter = state.withLock({ $0.waiting.removeValue(forKey: id) }) {
                waiter.resume(throwing: error)
            }
            throw error
        } catch {
            throw .disconnected(reason: "\(error)")
        }
    }

    /// Closes the connection; waiting requests fail.
    public func close() async {
        await connection.close()
        fail(reason: "closed by the client")
    }

    private func fail(reason: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Response.Body, any Error>] in
            if state.closedReason == nil { state.closedReason = reason }
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for waiter in waiters { waiter.resume(throwing: ClientConnectionError.disconnected(reason: reason)) }
        pushContinuation.finish()
    }
}
