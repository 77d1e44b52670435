import Foundation
import PostgresStore
import Primitives
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster for this test process: Debian's binaries
/// (`/usr/lib/postgresql/*/bin`), a temporary directory, a free port on 127.0.0.1, no Docker.
/// A library target of its own (not a test bundle), so that every test target that needs a real
/// PostgreSQL (the store's own tests, the two-node process tests) starts it the same way.
///
/// - One shared cluster per test process (starting one takes about two seconds), started on first
///   use; every test gets a fresh database in it (``makeDatabase()``). A test that stops and
///   starts PostgreSQL under running servers takes a private one (``startPrivate()``) instead, so
///   that no other suite sees the outage.
/// - PostgreSQL refuses to run as root, and CI runs as root: then every PostgreSQL binary runs as
///   `nobody` through `runuser -u nobody --`, and the temporary directory is chowned to it.
/// - It is always stopped: at normal exit (`atexit`; a private one by its owner's ``stop()``), and,
///   should the test process die before that (a crash, a kill), by a watchdog process started with
///   the cluster that polls this process's PID and then stops the postmaster by *its* PID, read
///   from `postmaster.pid` then (`pg_ctl stop -m immediate`, then SIGKILL; a restarted postmaster
///   has a new PID) and removes the directory. The watchdog also gives up the cluster after two hours,
///   so nothing outlives a hung run. Every wait is bounded (`pg_ctl -t`).
/// - A machine without the binaries skips the PostgreSQL tests, except where they are required
///   (`PARLEY_REQUIRE_INTEROP=1` or `CI` set, as in `.ci/run`): there they fail.
/// - The benchmarks' cluster scenario starts its own the same way, with ``Settings`` for a real
///   disk and PostgreSQL's durable defaults.
public final class PostgresCluster: Sendable {
    /// How a private cluster is made.
    public struct Settings: Sendable {
        /// The folder its temporary directory is made in (nil: the system's temporary folder).
        public var root: String?
        /// PostgreSQL's defaults (`fsync` on, a synced `initdb`) rather than a test cluster's
        /// `fsync=off`: for measurements, where the fsyncs are part of what is measured.
        public var durable: Bool
        /// Further `-c name=value` settings of the server.
        public var extraSettings: [String]

        public init(root: String? = nil, durable: Bool = false, extraSettings: [String] = []) {
            self.root = root
            self.durable = durable
            self.extraSettings = extraSettings
        }
    }

    /// The tests' settings: a temporary folder, `fsync=off`.
    public static let testSettings = Settings()

    public let directory: String
    public let port: Int
    public let binaries: String
    private let currentPostmaster: LockedValue<Int32>
    private let runAs: [String]
    private let settings: Settings
    private let databases = Atomic<Int>(0)

    /// The superuser the cluster is made with (trust authentication on 127.0.0.1 only).
    public static let superuser = "parley"

    /// Whether the PostgreSQL tests must run (and so fail rather than skip without PostgreSQL).
    public static var isRequired: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["PARLEY_REQUIRE_INTEROP"] == "1" || environment["CI"] != nil
    }

    /// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb` and `pg_ctl`, if any.
    public static let binaryDirectory: String? = {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap { version -> (Int, String)? in
            let bin = "\(root)/\(version)/bin"
            guard let number = Int(version), FileManager.default.isExecutableFile(atPath: "\(bin)/initdb"),
                  FileManager.default.isExecutableFile(atPath: "\(bin)/pg_ctl") else { return nil }
            return (number, bin)
        }.max { $0.0 < $1.0 }?.1
    }()

    /// Whether the tests run here: PostgreSQL is installed, or it is required (and its absence fails them).
    public static var shouldRun: Bool { binaryDirectory != nil || isRequired }

    private static let started = LockedValue<Result<PostgresCluster, PostgresClusterError>?>(nil)

    /// The process's cluster, started on first use.
    public static func shared() throws -> PostgresCluster {
        try started.withLock { started in
            if let started { return try started.get() }
            let result = Result<PostgresCluster, PostgresClusterError> { () throws(PostgresClusterError) in try start(testSettings) }
            started = result
            if case .success(let cluster) = result {
                atexit { PostgresCluster.stopShared() }
                _ = cluster
            }
            return try result.get()
        }
    }

    private static func stopShared() {
        let cluster = started.withLock { started -> PostgresCluster? in
            guard case .success(let cluster) = started else { return nil }
            return cluster
        }
        cluster?.stop()
    }

    /// A new, empty database in the cluster, and its URL.
    public func makeDatabase() throws -> PostgresDatabaseURL {
        let name = "test_\(getpid())_\(databases.add(1, ordering: .relaxed).newValue)"
        try psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    public func url(database: String) -> PostgresDatabaseURL {
        PostgresDatabaseURL(host: "127.0.0.1", port: port, username: Self.superuser, database: database)
    }

    /// Runs one SQL command with `psql` as the superuser (in `database`), failing on any error.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try Self.run(
            runAs + ["\(binaries)/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)",
                     "-U", Self.superuser, "-d", database, "-c", sql],
            timeout: 30)
    }

    /// The running postmaster's PID (a new one after ``startServer()``; 0 after ``stopServer()``).
    public var postmasterPID: Int32 { currentPostmaster.withLock { $0 } }

    /// Stops the cluster (fast: `-m immediate`), kills the postmaster by PID if it is still there,
    /// and removes the directory.
    public func stop() {
        _ = try? Self.run(runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-t", "10", "stop"], timeout: 20)
        // 0 while stopped by stopServer(): that postmaster is gone, and its PID may be reused.
        let pid = postmasterPID
        if pid > 0, kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops the PostgreSQL server but keeps its data (`pg_ctl stop -m fast`: clients are
    /// disconnected, as on an operator's restart). ``startServer()`` brings it back on the same port.
    public func stopServer() throws(PostgresClusterError) {
        try Self.run(runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-m", "fast", "-w", "-t", "60", "stop"], timeout: 90)
        currentPostmaster.withLock { $0 = 0 }
    }

    /// Starts the server again on the same port and data after ``stopServer()``.
    public func startServer() throws(PostgresClusterError) {
        try Self.run(runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-o", Self.options(port: port, directory: directory, settings: settings),
                              "-l", "\(directory)/log", "-w", "-t", "60", "start"], timeout: 90)
        guard let pid = Self.readPostmasterPID(directory: directory) else { throw PostgresClusterError("the postmaster started but wrote no PID") }
        currentPostmaster.withLock { $0 = pid }
    }

    /// A cluster of the caller's own (not the shared one), for a test that stops and starts it or
    /// a benchmark; the caller must ``stop()`` it (the watchdog covers a dying process).
    public static func startPrivate(_ settings: Settings = testSettings) throws(PostgresClusterError) -> PostgresCluster {
        try start(settings)
    }

    private static func options(port: Int, directory: String, settings: Settings) -> String {
        // fsync off for tests: a test cluster is thrown away, and the stores' durability setting
        // (synchronous_commit) is still the one they ask for.
        (["-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=400"]
            + (settings.durable ? [] : ["-c fsync=off"]) + settings.extraSettings.map { "-c \($0)" }).joined(separator: " ")
    }

    private static func readPostmasterPID(directory: String) -> Int32? {
        (try? String(contentsOfFile: "\(directory)/data/postmaster.pid", encoding: .utf8))?
            .split(separator: "\n").first.flatMap { Int32($0) }
    }

    // MARK: Starting

    private init(directory: String, port: Int, binaries: String, postmasterPID: Int32, runAs: [String], settings: Settings) {
        self.directory = directory
        self.port = port
        self.binaries = binaries
        self.currentPostmaster = LockedValue(postmasterPID)
        self.runAs = runAs
        self.settings = settings
    }

    private static func start(_ settings: Settings) throws(PostgresClusterError) -> PostgresCluster {
        guard let binaries = binaryDirectory else {
            throw PostgresClusterError(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): `make deps` installs Debian's postgresql")
        }
        let asRoot = getuid() == 0
        let runAs = asRoot ? ["/usr/sbin/runuser", "-u", "nobody", "--"] : []
        let root = settings.root.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? NSTemporaryDirectory()
        var template = Array((root + "parley-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw PostgresClusterError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        let directory = String(cString: made)
        do {
            if asRoot {
                guard let nobody = getpwnam("nobody") else { throw PostgresClusterError("there is no user nobody to run PostgreSQL as") }
                guard chown(directory, nobody.pointee.pw_uid, nobody.pointee.pw_gid) == 0 else {
                    throw PostgresClusterError("cannot chown \(directory) to nobody: \(String(cString: strerror(errno)))")
                }
            }
            chmod(directory, 0o700)
            try run(runAs + ["\(binaries)/initdb", "-D", "\(directory)/data", "-A", "trust", "-U", superuser, "-E", "UTF8",
                             "--locale=C", "--no-instructions"] + (settings.durable ? [] : ["--no-sync"]), timeout: 120)
            var lastError = PostgresClusterError("no attempt")
            for _ in 0..<3 {
                let port = try LoopbackPort.free()
                let options = options(port: port, directory: directory, settings: settings)
                do {
                    try run(runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-o", options, "-l", "\(directory)/log",
                                     "-w", "-t", "60", "start"], timeout: 90)
                } catch {
                    lastError = error
                    continue
                }
                guard let pid = readPostmasterPID(directory: directory) else { throw PostgresClusterError("the postmaster started but wrote no PID") }
                startWatchdog(directory: directory, binaries: binaries, runAs: runAs)
                return PostgresCluster(directory: directory, port: port, binaries: binaries, postmasterPID: pid, runAs: runAs, settings: settings)
            }
            let log = (try? String(contentsOfFile: "\(directory)/log", encoding: .utf8)) ?? ""
            throw PostgresClusterError("PostgreSQL did not start: \(lastError.message)\n\(log.suffix(2000))")
        } catch let error as PostgresClusterError {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw PostgresClusterError("\(error)")
        }
    }

    /// A detached shell that outlives this process if it dies: it waits for this PID to go, then
    /// stops the postmaster by its PID and removes the directory (or does so after two hours).
    private static func startWatchdog(directory: String, binaries: String, runAs: [String]) {
        let stop = (runAs + ["\(binaries)/pg_ctl", "-D", "\(directory)/data", "-m", "immediate", "-t", "10", "stop"])
            .map { "'\($0)'" }.joined(separator: " ")
        let script = """
            i=0; while kill -0 \(getpid()) 2>/dev/null && [ $i -lt 7200 ]; do sleep 1; i=$((i+1)); done
            pid=$(head -n 1 '\(directory)/data/postmaster.pid' 2>/dev/null)
            ours() { [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = postgres ]; }
            if ours; then \(stop) >/dev/null 2>&1; fi
            if ours; then kill -9 "$pid" 2>/dev/null; fi
            rm -rf '\(directory)'
            """
        // Detached (setsid -f: its own session, not our child), so nothing of ours waits for it.
        _ = try? run(["/usr/bin/setsid", "-f", "/bin/sh", "-c", script], timeout: 10)
    }


    /// Runs `arguments`, returning its standard output; fails on a non-zero exit or after
    /// `timeout` seconds (then the child is killed by its PID).
    ///
    /// `posix_spawn` and `waitpid` rather than Foundation's `Process`: `Process.waitUntilExit()`
    /// was seen to hang here after `pg_ctl start` had exited. Output goes to files, not pipes, so
    /// a daemon that inherits them cannot keep a reader waiting either.
    @discardableResult
    public static func run(_ arguments: [String], timeout: Double) throws(PostgresClusterError) -> String {
        let base = NSTemporaryDirectory() + "parley-pg-run-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let (outPath, errPath) = (base + ".out", base + ".err")
        defer { unlink(outPath); unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var pid: pid_t = 0
        // In / (env -C): the test's directory may not be readable by the user PostgreSQL runs as.
        let command = ["/usr/bin/env", "-C", "/"] + arguments
        var argv = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let spawned = posix_spawn(&pid, command[0], &actions, nil, &argv, environ)
        guard spawned == 0 else { throw PostgresClusterError("cannot run \(arguments[0]): \(String(cString: strerror(spawned)))") }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { throw PostgresClusterError("waitpid failed: \(String(cString: strerror(errno)))") }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw PostgresClusterError("\(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
            }
            usleep(20_000)
        }
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw PostgresClusterError("\(arguments.joined(separator: " ")) failed (status \(status)): \(errors)")
        }
        return output
    }
}

/// What went wrong starting, stopping or driving the throwaway cluster.
public struct PostgresClusterError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Free TCP ports on 127.0.0.1, for the servers tests and benchmarks start.
public enum LoopbackPort {
    /// A port the kernel has just handed out for 127.0.0.1 (bound, then released).
    public static func free() throws(PostgresClusterError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresClusterError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw PostgresClusterError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
