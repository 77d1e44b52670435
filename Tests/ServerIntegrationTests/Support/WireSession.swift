import ClientCore
import Foundation
import Primitives
import SecureChannel
import TCPTransport
import WireProtocol

/// A test client over real TCP: a ``WireClient`` on an authenticated Noise connection, with the
/// server's pushes recorded as they arrive.
struct WireSession: Sendable {
    let wire: WireClient
    let pushes: Observed<Push>

    /// Sends one request and returns the server's answer (an `.error` answer is returned, not thrown).
    @discardableResult
    func call(_ body: Request.Body) async throws -> Response.Body {
        try await wire.request(body)
    }

    /// The deliveries pushed so far, in arrival order.
    var deliveries: [Delivery] {
        pushes.elements.compactMap { push in
            if case .delivery(let delivery) = push { return delivery }
            return nil
        }
    }

    /// Waits until `count` deliveries have been pushed.
    @discardableResult
    func waitForDeliveries(_ count: Int, within limit: Duration = .seconds(10)) async throws -> [Delivery] {
        try await pushes.wait("\(count) deliveries", within: limit) { pushes in
            pushes.count { if case .delivery = $0 { true } else { false } } >= count
        }
        return deliveries
    }
}

extension IntegrationEnvironment {
    /// Connects to `127.0.0.1:port`, pinning `serverKey`, runs `body` with a session, then closes.
    func withSession<Result: Sendable>(
        port: Int, serverKey: X25519PublicKey, _ body: (WireSession) async throws -> Result
    ) async throws -> Result {
        try await clientTransport().withConnection(host: "127.0.0.1", port: port, expectedServerKey: serverKey) { connection, inbound in
            let wire = WireClient(connection: connection, requestTimeout: .seconds(15) * sanitizerSlowdown)
            let session = WireSession(wire: wire, pushes: Observed())
            return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
                group.addTask { await wire.run(inbound: inbound) }
                group.addTask {
                    for await push in wire.pushes { session.pushes.append(push) }
                    session.pushes.finish()
                }
                let outcome: Swift.Result<Result, any Error>
                do { outcome = .success(try await body(session)) } catch { outcome = .failure(error) }
                await wire.close()
                try await group.waitForAll()
                return try outcome.get()
            }
        }
    }
}

/// The code of an error answer, or nil for any other answer (so tests compare codes, not prose).
func errorCode(_ body: Response.Body) -> WireError.Code? {
    if case .error(let error) = body { return error.code }
    return nil
}

/// The envelope id of an `.accepted` answer, or nil.
func acceptedID(_ body: Response.Body) -> UInt64? {
    if case .accepted(let id, _) = body { return id }
    return nil
}

/// Whether a request failed because the connection was gone.
func isDisconnected(_ error: ClientConnectionError) -> Bool {
    if case .disconnected = error { return true }
    return false
}

/// How much longer request timeouts are under a sanitizer (`make sanitize` sets
/// `PARLEY_SANITIZER`): a 2-3x slower build with the whole suite on two cores.
let sanitizerSlowdown = ProcessInfo.processInfo.environment["PARLEY_SANITIZER"] == nil ? 1 : 10
