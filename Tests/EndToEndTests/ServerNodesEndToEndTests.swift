import Foundation
import Testing

/// Issue 12, part 5: a client moves between the nodes of one server. A cluster is one server with
/// one identity (its key): `--server` takes several addresses, tried in order; an account's local
/// data and pin belong to the key, so another node with the same key needs neither a new pin nor
/// a second database, while a different key is still refused loudly. Homes of the previous,
/// address-named layout are migrated on first use.
///
/// The "nodes" here are two parley-server processes on copies of one data directory (same key,
/// same accounts): enough for what the client sees. Nodes sharing one live database are tested
/// with PostgreSQL.
@Suite("A client moves between the nodes of one server", .serialized, .timeLimit(.minutes(3)))
struct ServerNodesEndToEndTests {
    /// Runs `parley` with `--server` set to `servers` (comma-separated) for `user`.
    static func parley(_ world: World, _ user: String, servers: [ServerProcess], ports: [Int]? = nil, _ arguments: [String]) async throws -> RunResult {
        let list = (ports ?? servers.map(\.port)).map { "127.0.0.1:\($0)" }.joined(separator: ",")
        let common = ["--server", list, "--home", world.home(user), "--user", user, "--password-stdin"]
        return try await run(Binaries.parley, common + arguments, input: "\(user)-password-123\n")
    }

    /// A second node: a copy of the first one's data directory (its key and its accounts), stopped
    /// first so that the copy is consistent.
    static func secondNode(copying world: World) async throws -> ServerProcess {
        let port = world.server.port
        world.server.stop()
        let copy = world.root.appendingPathComponent("server-b")
        try FileManager.default.copyItem(at: world.server.dataDirectory, to: copy)
        let node = ServerProcess(dataDirectory: copy)
        try await node.start()
        try await world.server.start(port: port)
        return node
    }

    static func pins(_ world: World, _ user: String) throws -> [String] {
        let text = (try? String(contentsOfFile: world.home(user) + "/known_servers", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).sorted()
    }

    static func folders(_ world: World, _ user: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: world.home(user)).filter { $0 != "known_servers" }.sorted()
    }

    @Test("another node with the same key: no new pin, one database, and the client fails over to it")
    func failsOverToANodeWithTheSameKey() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("alice")
        try await world.register("bob")
        let nodeB = try await Self.secondNode(copying: world)
        defer { nodeB.stop(signal: SIGKILL) }
        let nodeA = world.server
        // Both nodes listed; A answers. Both addresses are pinned to the one key at once.
        let first = try await Self.parley(world, "alice", servers: [nodeA, nodeB], ["contacts"])
        #expect(first.status == 0, "\(first)")
        let key = nodeA.keyHex
        #expect(try Self.pins(world, "alice") == ["127.0.0.1:\(nodeA.port) \(key)", "127.0.0.1:\(nodeB.port) \(key)"].sorted())
        // A goes down: the next address is tried, the same account and database are used.
        let portA = nodeA.port
        nodeA.stop()
        let failedOver = try await Self.parley(world, "alice", servers: [nodeB], ports: [portA, nodeB.port], ["send", "bob", "via node b"])
        #expect(failedOver.status == 0, "\(failedOver)")
        #expect(try Self.folders(world, "alice") == ["server-\(key)"])
        // B alone, named on its own for the first time: recognised by its key, no second account.
        let alone = try await Self.parley(world, "alice", servers: [nodeB], ["history", "bob"])
        #expect(alone.status == 0, "\(alone)")
        #expect(alone.stdout.contains("via node b"), "\(alone)")
        #expect(try Self.folders(world, "alice") == ["server-\(key)"])
    }

    @Test("a node that proves another key is refused loudly, and nothing is pinned for it")
    func aDifferentKeyIsRefused() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("alice")
        let stranger = ServerProcess(dataDirectory: world.root.appendingPathComponent("stranger"))
        try await stranger.start()
        defer { stranger.stop(signal: SIGKILL) }
        let portA = world.server.port
        world.server.stop()
        let before = try Self.pins(world, "alice")
        let refused = try await Self.parley(world, "alice", servers: [stranger], ports: [portA, stranger.port], ["contacts"])
        #expect(refused.status == 69, "\(refused)")
        #expect(refused.stderr.contains("WARNING") && refused.stderr.contains("different key"), "\(refused)")
        #expect(try Self.pins(world, "alice") == before)
    }

    @Test("a home of the previous layout (a folder per address) is moved under the server's key on first use")
    func migratesAnAddressNamedHome() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("alice")
        try await world.register("bob")
        let sent = try await world.parley("alice", ["send", "bob", "before the move"])
        #expect(sent.status == 0, "\(sent)")
        // What the previous version wrote: <home>/127.0.0.1_<port>/alice/, with the same pin file.
        let home = world.home("alice")
        let legacy = home + "/127.0.0.1_\(world.server.port)"
        try FileManager.default.moveItem(atPath: home + "/server-\(world.server.keyHex)", toPath: legacy)
        #expect(try Self.folders(world, "alice") == ["127.0.0.1_\(world.server.port)"])
        let history = try await world.parley("alice", ["history", "bob"])
        #expect(history.status == 0, "\(history)")
        #expect(history.stdout.contains("before the move"), "\(history)")
        #expect(try Self.folders(world, "alice") == ["server-\(world.server.keyHex)"])
        #expect(FileManager.default.fileExists(atPath: world.clientDatabase("alice")))
    }
}
