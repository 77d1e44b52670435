import Foundation
import PostgresTestCluster
import Primitives

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12's cluster as an operator runs it: `parley-server` processes (node A and node B) on
/// one PostgreSQL database of a throwaway cluster, sharing one static key through `--key-file`.
///
/// Every node is a child process bounded like any ``ServerProcess`` (SIGKILLed by PID by
/// ``stopAll()`` on every path); the database is a fresh one per cluster.
final class ClusterNodes: Sendable {
    let directory: TemporaryDirectory
    let databaseURL: String
    let keyFile: String
    let serverKey: X25519PublicKey
    private let extraArguments: [String]
    private let started = LockedValue<[ServerProcess]>([])

    /// Makes the key file once (`--key-file PATH --print-key`) and a database in `cluster`.
    init(cluster: PostgresCluster, label: String, extraArguments: [String] = []) async throws {
        directory = try TemporaryDirectory("cluster-\(label)")
        do {
            let url = try cluster.makeDatabase()
            databaseURL = "postgresql://\(url.username)@\(url.host):\(url.port)/\(url.database)"
            keyFile = directory.file("cluster-static-key")
            let printed = try await Command.run(try ServerBinary.url(), ["--key-file", keyFile, "--print-key"], within: .seconds(30))
            guard printed.exit == ProcessExit(exited: true, status: 0), let bytes = Hex.decode(printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw ServerProcess.StartFailure(description: "--key-file --print-key failed: \(printed.exit)\n\(printed.stderr)")
            }
            serverKey = try X25519PublicKey(bytes: bytes)
        } catch {
            directory.remove()
            throw error
        }
        self.extraArguments = extraArguments
    }

    /// Starts node `name` (its own data directory, `--node-id name`) and checks that it proves
    /// the cluster's key.
    func start(_ name: String, port: Int = 0) async throws -> ServerProcess {
        let node = try await ServerProcess.start(
            dataDirectory: directory.file("data-\(name)"), port: port,
            arguments: ["--database", databaseURL, "--node-id", name, "--key-file", keyFile] + extraArguments)
        started.withLock { $0.append(node) }
        guard node.serverKey == serverKey else {
            node.forceStop()
            throw ServerProcess.StartFailure(description: "node \(name) proves \(node.serverKey), not the cluster's key from \(keyFile)")
        }
        return node
    }

    /// SIGKILLs every node still running (by PID), waits (bounded) until each has been reaped
    /// (``ServerProcess/forceStop()``), and removes the directory. Synchronous, for `defer`.
    func stopAll() {
        for node in started.withLock({ $0 }) { node.forceStop() }
        directory.remove()
    }
}

/// The built `parley` client, beside `parley-server`.
enum ClientBinary {
    static func url() throws -> URL {
        let url = try ServerBinary.url().deletingLastPathComponent().appendingPathComponent("parley")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw ServerBinary.Missing(searched: [url.path])
        }
        return url
    }
}
