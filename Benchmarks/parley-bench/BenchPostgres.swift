import Foundation
import PostgresStore
import PostgresTestCluster

#if canImport(Glibc)
import Glibc
#endif

/// The cluster benchmark's PostgreSQL: a private cluster made the way the tests make theirs
/// (`PostgresCluster`: Debian's binaries, a free port on 127.0.0.1, every binary as `nobody` when
/// root, a watchdog that stops the postmaster by its PID should this process die first), but in a
/// directory under the benchmark's data root (a real disk) with PostgreSQL's durable defaults
/// (`fsync` and `synchronous_commit` on), and `pg_stat_statements` loaded to count the statements
/// the nodes send. ``stop()`` is called on every path out of the benchmark.
final class BenchPostgres: Sendable {
    let cluster: PostgresCluster
    var directory: String { cluster.directory }
    var port: Int { cluster.port }
    var binaries: String { cluster.binaries }

    static func start(in root: String) throws -> BenchPostgres {
        let settings = PostgresCluster.Settings(
            root: root, durable: true, extraSettings: ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"])
        let cluster: PostgresCluster
        do {
            cluster = try PostgresCluster.startPrivate(settings)
        } catch {
            throw BenchError.setup("\(error)")
        }
        do {
            try cluster.psql("CREATE EXTENSION pg_stat_statements")
        } catch {
            cluster.stop()
            throw error
        }
        return BenchPostgres(cluster: cluster)
    }

    private init(cluster: PostgresCluster) { self.cluster = cluster }

    func url(database: String) -> PostgresDatabaseURL { cluster.url(database: database) }

    /// Runs SQL with `psql` (unaligned, tuples only, `|`-separated), failing on any error.
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") throws -> String { try cluster.psql(sql, database: database) }

    /// Stops the cluster and removes its directory.
    func stop() { cluster.stop() }

    /// CPU seconds (user + system) of the whole cluster so far: the postmaster, its live children
    /// (backends, the WAL writer, the checkpointer, ...) and the children that have exited
    /// (the postmaster's cutime + cstime).
    func cpuSeconds() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let postmaster = cluster.postmasterPID
        var total = 0.0
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let fields = Self.statFields(pid) else { continue }
            if pid == postmaster {
                total += (fields.utime + fields.stime + fields.cutime + fields.cstime) / ticks
            } else if fields.ppid == postmaster {
                total += (fields.utime + fields.stime) / ticks
            }
        }
        return total
    }

    private static func statFields(_ pid: Int32) -> (ppid: Int32, utime: Double, stime: Double, cutime: Double, cstime: Double)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let ppid = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]),
              let childUser = Double(fields[13]), let childSystem = Double(fields[14]) else { return nil }
        return (ppid, user, system, childUser, childSystem)
    }
}
