import Foundation
import PostgresStore

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster for the cluster benchmark: Debian's binaries
/// (`/usr/lib/postgresql/*/bin`), a fresh directory under the benchmark's data root (a real disk,
/// so that its fsyncs are real: PostgreSQL's defaults, `fsync` and `synchronous_commit` on), a free
/// port on 127.0.0.1, `pg_stat_statements` loaded to count the statements the nodes send. As the
/// test harness does (Tests/PostgresStoreTests/PostgresCluster.swift): as root, every PostgreSQL
/// binary runs as `nobody` (`runuser`), and a detached watchdog stops the postmaster by its PID
/// should this process die first. ``stop()`` is called on every path out of the benchmark.
final class BenchPostgres: Sendable {
    let directory: String
    let port: Int
    let binaries: String
    let postmasterPID: Int32
    private let runAs: [String]

    static let superuser = "parley"

    static var binaryDirectory: String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap { version -> (Int, String)? in
            let bin = "\(root)/\(version)/bin"
            guard let number = Int(version), FileManager.default.isExecutableFile(atPath: "\(bin)/initdb") else { return nil }
            return (number, bin)
        }.max { $0.0 < $1.0 }?.1
    }

    static func start(in root: String) throws -> BenchPostgres {
        guard let binaries = binaryDirectory else {
            throw BenchError.setup("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql")
        }
        let asRoot = getuid() == 0
        let runAs = asRoot ? ["/usr/sbin/runuser", "-u", "nobody", "--"] : []
        let directory = try makeTemporaryDirectory(in: root)
        do {
            if asRoot {
                guard let nobody = getpwnam("nobody"), chown(directory, nobody.pointee.pw_uid, nobody.pointee.pw_gid) == 0 else {
                    throw BenchError.setup("cannot chown \(directory) to nobody")
                }
            }
            try run(runAs + ["\(binaries)/initdb", "-D", "\(directory)/data", "-A", "trust", "-U", superuser, "-E", "UTF8", "--locale=C",
                             "--no-instructions"], timeout: 120)
            var lastError: any Error = BenchError.setup("no attempt")
            for _ in 0..<3 {
                let port = try ServerProcess.freePort()
                let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=200 "
                    + "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
                do {
                    try run(runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-o", options, "-l", "\(directory)/log", "-w", "-t", "60", "start"],
                            timeout: 90)
                } catch {
                    lastError = error
                    continue
                }
                guard let pid = (try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8))?
                    .split(separator: "\n").first.flatMap({ Int32($0) })
                else { throw BenchError.setup("the postmaster started but wrote no PID") }
                startWatchdog(postmasterPID: pid, directory: directory, binaries: binaries, runAs: runAs)
                let cluster = BenchPostgres(directory: directory, port: port, binaries: binaries, postmasterPID: pid, runAs: runAs)
                do {
                    try cluster.psql("CREATE EXTENSION pg_stat_statements")
                } catch {
                    cluster.stop()
                    throw error
                }
                return cluster
            }
            throw BenchError.setup("PostgreSQL did not start: \(lastError)")
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    private init(directory: String, port: Int, binaries: String, postmasterPID: Int32, runAs: [String]) {
        self.directory = directory
        self.port = port
        self.binaries = binaries
        self.postmasterPID = postmasterPID
        self.runAs = runAs
    }

    func url(database: String) -> PostgresDatabaseURL {
        PostgresDatabaseURL(host: "127.0.0.1", port: port, username: Self.superuser, database: database)
    }

    /// Runs SQL with `psql` (unaligned, tuples only, `|`-separated), failing on any error.
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run(
            runAs + ["\(binaries)/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)",
                     "-U", Self.superuser, "-d", database, "-c", sql],
            timeout: 30)
    }

    /// CPU seconds (user + system) of the whole cluster so far: the postmaster, its live children
    /// (backends, the WAL writer, the checkpointer, ...) and the children that have exited
    /// (the postmaster's cutime + cstime).
    func cpuSeconds() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let fields = Self.statFields(pid) else { continue }
            if pid == postmasterPID {
                total += (fields.utime + fields.stime + fields.cutime + fields.cstime) / ticks
            } else if fields.ppid == postmasterPID {
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

    /// Stops the cluster (`-m immediate`), kills the postmaster by PID if it is still there, and
    /// removes the directory.
    func stop() {
        _ = try? Self.run(runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-t", "10", "stop"], timeout: 20)
        if kill(postmasterPID, 0) == 0 { kill(postmasterPID, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func startWatchdog(postmasterPID: Int32, directory: String, binaries: String, runAs: [String]) {
        let stop = (runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-t", "10", "stop"])
            .map { "'\($0)'" }.joined(separator: " ")
        let script = """
            i=0; while kill -0 \(getpid()) 2>/dev/null && [ $i -lt 7200 ]; do sleep 1; i=$((i+1)); done
            if kill -0 \(postmasterPID) 2>/dev/null; then \(stop) >/dev/null 2>&1; kill -9 \(postmasterPID) 2>/dev/null; fi
            rm -rf '\(directory)'
            """
        _ = try? run(["/usr/bin/setsid", "-f", "/bin/sh", "-c", script], timeout: 10)
    }

    /// Runs `arguments` (in `/`, which `nobody` can read), returning its standard output; fails on a
    /// non-zero exit or after `timeout` seconds (the child is then killed by its PID). posix_spawn
    /// with output to files, not Foundation's Process with pipes: `pg_ctl start` leaves a daemon
    /// that would inherit a pipe (see the test harness).
    @discardableResult
    static func run(_ arguments: [String], timeout: Double) throws -> String {
        let base = NSTemporaryDirectory() + "parley-bench-pg-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let (outPath, errPath) = (base + ".out", base + ".err")
        defer { unlink(outPath); unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var pid: pid_t = 0
        let command = ["/usr/bin/env", "-C", "/"] + arguments
        var argv = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawn(&pid, command[0], &actions, nil, &argv, environ)
        guard spawned == 0 else { throw BenchError.setup("cannot run \(arguments[0]): \(String(cString: strerror(spawned)))") }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { throw BenchError.setup("waitpid failed: \(String(cString: strerror(errno)))") }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw BenchError.setup("\(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
            }
            usleep(5_000)
        }
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard (status & 0x7f) == 0 && (status >> 8) & 0xff == 0 else {
            let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw BenchError.setup("\(arguments.joined(separator: " ")) failed (status \(status)): \(errors)")
        }
        return output
    }
}
