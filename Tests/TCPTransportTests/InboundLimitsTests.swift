import SecureChannel
import TCPTransport
import Testing

/// The server transport's limits on what unauthenticated or slow peers can make it hold: a cap
/// on connections per source address, and one budget of buffered inbound bytes for all.
@Suite("Inbound limits", .timeLimit(.minutes(1)))
struct InboundLimitsTests {
    @Test("connections beyond the per-address cap are closed at once; a freed slot admits the next")
    func perAddressConnectionCap() async throws {
        let environment = try TransportEnvironment()
        let limits = ChannelLimits(handshakeTimeout: .seconds(20), unauthenticatedIdleTimeout: .seconds(20), maxConnectionsPerAddress: 2)
        try await environment.withServer(limits: limits) { server in
            let holders = [try await RawConnection.connect(port: server.localPort), try await RawConnection.connect(port: server.localPort)]
            try await waitUntil { server.connectionCount == 2 }
            let extra = try await RawConnection.connect(port: server.localPort)
            do {
                _ = try await extra.sendThenAwaitClose(within: 5)
            } catch {
                // Not closed by the server: close everything here (an unfinished NIO writer traps).
                for connection in holders + [extra] { try? await connection.channel.channel.close() }
                Issue.record("the connection over the per-address cap was not closed: \(error)")
                return
            }
            #expect(server.connectionCount == 2)
            try await holders[0].channel.channel.close()
            try await waitUntil { server.connectionCount == 1 }
            try await environment.client().withConnection(host: "127.0.0.1", port: server.localPort) { connection, inbound in
                try await connection.send([5])
                var iterator = inbound.makeAsyncIterator()
                #expect(try await iterator.next() == [5])
            }
            try await holders[1].channel.channel.close()
        }
    }

    @Test("a connection whose frames would exceed the global inbound budget is closed; closing a holder gives its bytes back")
    func globalInboundBudget() async throws {
        let environment = try TransportEnvironment()
        let frame = [UInt8](repeating: 0x42, count: 300 << 10)
        // Room for three such frames, not four; nothing is consumed by the handler.
        let limits = ChannelLimits(inboundFrameBuffer: 8, maxBufferedInboundBytes: 1 << 20)
        try await environment.withServer(limits: limits, handler: HoldingHandler()) { server in
            let client = try environment.client()
            try await client.withConnection(host: "127.0.0.1", port: server.localPort) { holder, _ in
                for _ in 0..<3 { try await holder.send(frame) }
                try await waitUntil { server.bufferedInboundBytes >= 3 * frame.count }

                // The fourth frame, from another connection, does not fit: that connection is closed.
                try await client.withConnection(host: "127.0.0.1", port: server.localPort) { late, inbound in
                    try await late.send(frame)
                    #expect(try await Self.endsWithin(.seconds(10), inbound), "the server must close the connection that exceeded the budget")
                }
                #expect(server.bufferedInboundBytes <= 1 << 20)
            }
            // The holder is gone, and so are its bytes.
            try await waitUntil { server.bufferedInboundBytes == 0 }
        }
    }

    /// Whether `inbound` ends (normally or with an error) without a frame within `limit`.
    static func endsWithin(_ limit: Duration, _ inbound: InboundFrames) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                var iterator = inbound.makeAsyncIterator()
                do { return try await iterator.next() == nil } catch { return true }
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
    }
}

/// Takes no frames at all until the connection is closed by the server's shutdown.
struct HoldingHandler: FrameConnectionHandler {
    func serve(_ connection: any FrameConnection, inbound: InboundFrames) async {
        try? await Task.sleep(for: .seconds(3600))
    }
}

