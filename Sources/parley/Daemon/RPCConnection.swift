import ClientCore
import Foundation
import NIOCore
import Primitives
import Synchronization

/// One client of the daemon: its requests, answered in order, and at most one subscription.
///
/// Each connection is isolated: whatever it sends (not JSON, a line too long, invalid UTF-8,
/// wrong types, too many requests at once) is answered with an error or ends this connection
/// only. A subscription reads the durable event log from its cursor and writes while the
/// channel's outbound buffer is under its bound (the channel's high water mark, `--subscriber-buffer`,
/// 1 MiB); at the bound it waits for the client to read, and a client that does not read for
/// `--subscriber-stall` (10 s) is told it fell behind and must resubscribe from its cursor. The
/// backlog stays in the durable log: no unbounded queue, and the daemon never waits on one client.
actor RPCConnection {
    /// The most requests a client may have waiting for their answers.
    static let maxQueuedRequests = 64

    private let channel: any Channel
    private let state: DaemonState
    /// The TCP token the first request must carry (nil on the Unix socket).
    private let token: String?
    private var authenticated: Bool
    private var subscription: Task<Void, Never>?
    private var subscriptionID: UInt64 = 0
    private var closed = false
    /// Fired by the channel handler when the outbound buffer crosses a water mark.
    nonisolated let writability = EventSignal()

    init(channel: any Channel, state: DaemonState, token: String?) {
        self.channel = channel
        self.state = state
        self.token = token
        authenticated = token == nil
    }

    // MARK: Requests

    func handle(_ line: [UInt8]) async {
        guard !closed else { return }
        guard let value = JSONValue.parse(line) else {
            answer(id: .null, error: .parseError("not JSON (or not UTF-8)"))
            return
        }
        guard case .object(let request) = value else {
            answer(id: .null, error: .invalidRequest("a request is one JSON object per line (no batches)"))
            return
        }
        let id = request["id"]
        if let id, !Self.isValidID(id) {
            answer(id: .null, error: .invalidRequest("id must be a string, a number or null"))
            return
        }
        guard request["jsonrpc"] == "2.0" else {
            answer(id: id ?? .null, error: .invalidRequest("jsonrpc must be \"2.0\""))
            return
        }
        guard let method = request["method"]?.stringValue else {
            answer(id: id ?? .null, error: .invalidRequest("method must be a string"))
            return
        }
        if !authenticated {
            guard let token, let given = request["params"]?["auth"]?.stringValue, Self.constantTimeEqual(given, token) else {
                answer(id: id ?? .null, error: .authentication("the first request on TCP must carry the daemon's token as params.auth"))
                close()
                return
            }
            authenticated = true
        }
        let call: RPCMethods.Call
        do { call = try RPCMethods.parse(method: method, params: request["params"]) } catch {
            if let id { answer(id: id, error: error) }
            return
        }
        let outcome: Result<JSONValue, RPCError> = await run(call)
        // A request without an id is a notification: done, nothing to answer.
        guard let id else { return }
        switch outcome {
        case .success(let result): write(["jsonrpc": "2.0", "id": id, "result": result])
        case .failure(let error): answer(id: id, error: error)
        }
    }

    private func run(_ call: RPCMethods.Call) async -> Result<JSONValue, RPCError> {
        switch call {
        case .command(.version):
            return .success(CommandJSON.result(.version(ParleyVersion.current), me: state.user))
        case .command(let command):
            guard let session = state.session else { return .failure(.unreachable("not connected to the server; reconnecting")) }
            do {
                return .success(CommandJSON.result(try await session.executor.execute(command), me: state.user))
            } catch {
                return .failure(RPCError(error))
            }
        case .subscribe(let after):
            return await subscribe(after: after)
        case .unsubscribe:
            let was = subscription != nil
            subscription?.cancel()
            subscription = nil
            return .success(["unsubscribed": .bool(was)])
        }
    }

    // MARK: Subscriptions

    /// How long a subscribe waits for the daemon to (re)connect before it is refused.
    static let subscribeWait = Duration.seconds(60)

    private func subscribe(after requested: UInt64?) async -> Result<JSONValue, RPCError> {
        // While the daemon logs in (at start, or reconnecting), the store is not open: a bot that
        // came back first waits for it instead of being refused.
        let deadline = ContinuousClock.now + Self.subscribeWait
        var session = state.session
        while session == nil, ContinuousClock.now < deadline {
            let generation = state.signal.generation
            session = state.session
            if session == nil { await state.signal.wait(after: generation, timeout: .seconds(1)) }
            session = state.session
        }
        guard let log = session?.eventLog else { return .failure(.unreachable("not connected to the server; reconnecting")) }
        let latest: UInt64
        let oldest: UInt64?
        do {
            latest = try log.latestCursor()
            oldest = try log.oldestCursor()
        } catch {
            return .failure(.local("cannot read the event log: \(error)"))
        }
        let start = min(requested ?? latest, latest)
        subscription?.cancel()
        subscriptionID += 1
        let id = subscriptionID
        // Started after the answer is written (this actor writes the answer before it runs again).
        subscription = Task { [state] in
            await Self.stream(from: start, connection: self, id: id, state: state)
        }
        var result: [String: JSONValue] = ["cursor": .integer(Int64(clamping: start)), "latest": .integer(Int64(clamping: latest))]
        result["oldest"] = oldest.map { .integer(Int64(clamping: $0)) } ?? .null
        // Events between the cursor and the oldest kept were trimmed (retention): say so.
        result["missed"] = .bool(oldest.map { start + 1 < $0 } ?? false)
        return .success(.object(result))
    }

    private static func stream(from start: UInt64, connection: RPCConnection, id: UInt64, state: DaemonState) async {
        var cursor = start
        while !Task.isCancelled {
            let generation = state.signal.generation
            let batch: [LoggedEvent]
            do { batch = try state.session?.eventLog.events(after: cursor, limit: 256) ?? [] } catch { batch = [] }
            if batch.isEmpty {
                await state.signal.wait(after: generation, timeout: .seconds(1))
                continue
            }
            for logged in batch {
                guard !Task.isCancelled else { return }
                switch await connection.deliver(logged, subscription: id) {
                case .delivered:
                    cursor = logged.cursor
                case .stopped:
                    return
                case .blocked:
                    // The outbound buffer is at its bound: wait for the client to read, for as
                    // long as it may stall; then it has fallen behind.
                    guard await connection.drained(within: state.subscriberStall) else {
                        await connection.fellBehind(subscription: id, cursor: cursor)
                        return
                    }
                    guard await connection.deliver(logged, subscription: id) == .delivered else { return }
                    cursor = logged.cursor
                }
            }
        }
    }

    enum Delivery { case delivered, blocked, stopped }

    /// Writes one event notification while the outbound buffer is under its bound (the
    /// channel's high water mark); `.stopped` when the subscription was replaced or the client left.
    private func deliver(_ logged: LoggedEvent, subscription id: UInt64) -> Delivery {
        guard !closed, id == subscriptionID else { return .stopped }
        guard channel.isWritable else { return .blocked }
        write(["jsonrpc": "2.0", "method": "event", "params": CommandJSON.event(logged, me: state.user)])
        return .delivered
    }

    /// Whether the outbound buffer fell under its low water mark within `limit`.
    private func drained(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !channel.isWritable, !closed, ContinuousClock.now < deadline {
            let generation = writability.generation
            if channel.isWritable { break }
            await writability.wait(after: generation, timeout: deadline - ContinuousClock.now)
        }
        return channel.isWritable && !closed
    }

    /// Ends the subscription, telling the client the cursor to resubscribe from.
    private func fellBehind(subscription id: UInt64, cursor: UInt64) {
        guard !closed, id == subscriptionID else { return }
        write([
            "jsonrpc": "2.0", "method": "fellBehind",
            "params": [
                "cursor": .integer(Int64(clamping: cursor)),
                "message": "this subscriber fell behind; subscribe again with after = cursor",
            ],
        ])
        subscription = nil
    }

    // MARK: Plumbing

    /// Answers a line longer than the daemon reads, then closes this connection.
    func refuseOverlongLine(limit: Int) {
        answer(id: .null, error: .invalidRequest("a request line is limited to \(limit) bytes", reason: "line-too-long"))
        close()
    }

    func refuseFlood() {
        answer(id: .null, error: .invalidRequest("more than \(Self.maxQueuedRequests) requests waiting", reason: "too-many-requests"))
        close()
    }

    func closedByPeer() {
        closed = true
        subscription?.cancel()
        subscription = nil
    }

    private func close() {
        closed = true
        subscription?.cancel()
        subscription = nil
        channel.close(promise: nil)
    }

    private func answer(id: JSONValue, error: RPCError) {
        write(["jsonrpc": "2.0", "id": id, "error": error.json])
    }

    private func write(_ message: JSONValue) {
        var buffer = channel.allocator.buffer(capacity: 256)
        buffer.writeString(message.line)
        buffer.writeInteger(UInt8(0x0A))
        channel.writeAndFlush(buffer, promise: nil)
    }

    private static func isValidID(_ id: JSONValue) -> Bool {
        switch id {
        case .string, .integer, .double, .null: true
        default: false
        }
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
