import Foundation
import SecureChannel
import Synchronization
import TCPTransport
import Testing

/// A rough measurement of what an idle authenticated connection costs: resident memory before and
/// after opening `count` connections (both ends live in this process, so each one is a client and
/// a server side, including the serving task on each).
@Suite(.timeLimit(.minutes(1)))
struct IdleConnectionMemoryTests {
    @Test func idleAuthenticatedConnectionsStaySmall() async throws {
        let environment = try TransportEnvironment()
        let count = 200
        try await environment.withServer(limits: ChannelLimits(maxConnections: 1000, maxConnectionsPerAddress: 1000)) { server in
            let client = try environment.client()
            _ = try await Self.holdConnections(20, client: client, port: server.localPort) { }  // warm-up
            let before = Self.residentBytes()
            var after = 0
            _ = try await Self.holdConnections(count, client: client, port: server.localPort) {
                after = Self.residentBytes()
            }
            let perPair = (after - before) / count
            print("memory: \(count) idle authenticated connections: +\((after - before) >> 10) KiB resident, about \(perPair >> 10) KiB per client+server pair")
            // Target < 16 KiB per side; the bound here is loose so allocator noise cannot fail it.
            #expect(perPair < 64 << 10)
        }
    }

    /// Opens `count` connections, runs `measure` while all are open and idle, then closes them.
    static func holdConnections(_ count: Int, client: NIOClientTransport, port: Int, measure: () -> Void) async throws -> Int {
        let gate = Gate()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<count {
                group.addTask {
                    try await client.withConnection(host: "127.0.0.1", port: port) { connection, inbound in
                        try await connection.send([1])
                        var iterator = inbound.makeAsyncIterator()
                        _ = try await iterator.next()
                        gate.opened.withLock { $0 += 1 }
                        while !gate.release.withLock({ $0 }) {
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
            while gate.opened.withLock({ $0 }) < count {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .milliseconds(200))
            measure()
            gate.release.withLock { $0 = true }
            try await group.waitForAll()
            return count
        }
    }

    /// Resident set size from /proc/self/statm (Linux), in bytes.
    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

final class Gate: Sendable {
    let opened = Mutex(0)
    let release = Mutex(false)
}
