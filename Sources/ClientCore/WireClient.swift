import Primitives
import SecureChannel
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
    /// One outstanding request. It is registered before its frame is sent, so an answer can never
    /// arrive ahead of its waiter and be dropped; whichever of answer, timeout, cancellation or
    /// close comes first settles it.
    private enum Slot {
        /// Sent (or being sent); nobody is suspended on it yet.
        case expecting
        /// Settled before the requester suspended.
        case settled(Result<Response.Body, ClientConnectionError>)
        /// The requester is suspended here.
        case waiting(CheckedContinuation<Response.Body, any Error>)
    }

    private struct State {
        var nextID: UInt32 = 1
        var slots: [UInt32: Slot] = [:]
        var closedReason: String?
    }

    private let connection: any FrameConnection
    private let state = LockedValue(State())
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

    /// Whether the connection has closed (or failed): no request can succeed any more.
    public var isClosed: Bool { state.withLock { $0.closedReason != nil } }

    /// Reads frames until the connection ends, resolving responses and queueing pushes. When it
    /// returns, every waiting request has failed with ``ClientConnectionError/disconnected(reason:)``.
    public func run(inbound: InboundFrames) async {
        var reason = "closed by the server"
        do {
            for try await frame in inbound {
                switch try? WireCodec.decode(frame) {
                case .response(let response)?:
                    settle(response.requestID, with: .success(response.body))
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

    /// Sends `body` and waits for its response, at most the request timeout.
    /// - Throws: ``ClientConnectionError``; a server-side refusal is a normal `.error` response.
    ///   A cancelled request fails with ``ClientConnectionError/disconnected(reason:)``.
    public func request(_ body: Request.Body) async throws(ClientConnectionError) -> Response.Body {
        let id: UInt32
        switch state.withLock({ state -> Result<UInt32, ClientConnectionError> in
            if let reason = state.closedReason { return .failure(.disconnected(reason: reason)) }
            defer { state.nextID &+= 1 }
            state.slots[state.nextID] = .expecting
            return .success(state.nextID)
        }) {
        case .success(let value): id = value
        case .failure(let error): throw error
        }
        // An unstructured timer rather than a child task: a task group would wait for its suspended
        // sibling before it could report the timeout, so the timeout would never fire.
        let timeout = requestTimeout
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self?.settle(id, with: .failure(.timedOut(seconds: Int(timeout.components.seconds))))
        }
        defer { timer.cancel() }
        do {
            try await connection.send(WireCodec.encode(.request(Request(id: id, body: body))))
        } catch {
            fail(reason: "\(error)")
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    let settled = state.withLock { state -> Result<Response.Body, ClientConnectionError>? in
                        switch state.slots[id] {
                        case .expecting?:
                            state.slots[id] = .waiting(continuation)
                            return nil
                        case .settled(let result)?:
                            state.slots[id] = nil
                            return result
                        case .waiting?, nil:
                            // Dropped by a close: the slot went with the connection.
                            return .failure(.disconnected(reason: state.closedReason ?? "closed"))
                        }
                    }
                    if let settled { continuation.resume(with: settled.mapError { $0 as any Error }) }
                }
            } onCancel: {
                settle(id, with: .failure(.disconnected(reason: "the request was cancelled")))
            }
        } catch let error as ClientConnectionError {
            throw error
        } catch {
            throw .disconnected(reason: "\(error)")
        }
    }

    /// Settles request `id` with its first outcome; later ones (a late answer after a timeout)
    /// are ignored.
    private func settle(_ id: UInt32, with result: Result<Response.Body, ClientConnectionError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Response.Body, any Error>? in
            switch state.slots[id] {
            case .expecting?:
                state.slots[id] = .settled(result)
                return nil
            case .waiting(let continuation)?:
                state.slots[id] = nil
                return continuation
            case .settled?, nil:
                return nil
            }
        }
        waiter?.resume(with: result.mapError { $0 as any Error })
    }

    /// Closes the connection; waiting requests fail.
    public func close() async {
        await connection.close()
        fail(reason: "closed by the client")
    }

    private func fail(reason: String) {
        let (waiters, closedReason) = state.withLock { state -> ([CheckedContinuation<Response.Body, any Error>], String) in
            if state.closedReason == nil { state.closedReason = reason }
            defer { state.slots.removeAll() }
            let waiters = state.slots.values.compactMap { slot -> CheckedContinuation<Response.Body, any Error>? in
                if case .waiting(let continuation) = slot { return continuation }
                return nil
            }
            return (waiters, state.closedReason ?? reason)
        }
        for waiter in waiters { waiter.resume(throwing: ClientConnectionError.disconnected(reason: closedReason)) }
        pushContinuation.finish()
    }
}
