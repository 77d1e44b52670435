import Foundation
import Logging
import Primitives

// parley-bench: Parley's benchmark suite (see BENCHMARKS.md). Run through `make bench`.
//
//   parley-bench [crypto] [relay] [latency] [idle] [idle-transport] [locks] [--quick] [--runs N] [--data-root DIR]
//                [--server-binary PATH] [--idle-connections N] [--no-child-process]
//   parley-bench relay-client ...   (internal: benchmark 2's load generator in a child process)

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}
raiseOpenFileLimit()

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "relay-client" {
    try await RelayClientCommand(arguments: Array(arguments.dropFirst())).run()
    exit(0)
}

let options = try BenchOptions(arguments: arguments)
printMachine(options)

if options.selected.contains("crypto") {
    _ = try CryptoBenchmark(rounds: options.quick ? 5 : 11, roundTarget: options.quick ? .milliseconds(10) : .milliseconds(40)).run()
}
if options.selected.contains("relay") {
    let load = RelayLoad(
        pairs: 64, mode: .saturate(inFlight: 256),
        warmup: options.quick ? .seconds(1) : .seconds(2), duration: options.quick ? .seconds(3) : .seconds(10))
    _ = try await RelayBenchmark(
        runs: options.runs, load: load, dataRoot: options.dataRoot,
        childProcessRuns: options.childProcess ? options.runs : 0, executable: options.executable).run()
}
if options.selected.contains("latency") {
    _ = try await LatencyBenchmark(
        dataRoot: options.dataRoot, duration: options.quick ? .seconds(3) : .seconds(10), warmup: .seconds(1),
        moderateRate: 2_000, moderatePairs: 16, idleRate: 200).run()
}
if options.selected.contains("idle") {
    _ = try await IdleConnectionsBenchmark(
        serverBinary: options.serverBinary, count: options.idleConnections, dataRoot: options.idleDataRoot).run()
}
if options.selected.contains("idle-transport") {
    _ = try await TransportIdleBenchmark(count: options.quick ? 200 : 1_000).run()
}
if options.selected.contains("locks") {
    LockBenchmark(rounds: options.quick ? 5 : 11, roundTarget: options.quick ? .milliseconds(10) : .milliseconds(40)).run()
}
emit("")
emit("done.")

// MARK: - Options

struct BenchOptions {
    static let all = ["crypto", "relay", "latency", "idle", "idle-transport", "locks"]
    var selected: Set<String> = []
    var quick = false
    var runs = 3
    var childProcess = true
    var dataRoot = "/tmp"
    var idleDataRoot = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : "/tmp"
    var idleConnections = 10_000
    var executable: String
    var serverBinary: String

    init(arguments: [String]) throws {
        executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        if !executable.hasPrefix("/") { executable = FileManager.default.currentDirectoryPath + "/" + executable }
        serverBinary = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("parley-server").path
        var remaining = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let next = remaining.popFirst() else { throw BenchError.setup("\(flag) needs a value") }
            return next
        }
        while let argument = remaining.popFirst() {
            switch argument {
            case "--quick": quick = true
            case "--runs": runs = Int(try value(argument)) ?? runs
            case "--no-child-process": childProcess = false
            case "--data-root": dataRoot = try value(argument)
            case "--idle-data-root": idleDataRoot = try value(argument)
            case "--idle-connections": idleConnections = Int(try value(argument)) ?? idleConnections
            case "--server-binary": serverBinary = try value(argument)
            case _ where Self.all.contains(argument): selected.insert(argument)
            default: throw BenchError.setup("unknown argument \(argument); see BENCHMARKS.md")
            }
        }
        if selected.isEmpty { selected = Set(Self.all) }
        if quick { idleConnections = min(idleConnections, 2_000) }
    }
}

/// benchmark 2's load generator in a process of its own; prints WINDOW_START, WINDOW_END and a
/// RESULT line for the parent.
struct RelayClientCommand {
    var port = 0
    var serverKey: X25519PublicKey?
    var pairs = 64
    var inFlight = 256
    var warmup = 2.0
    var duration = 10.0
    var prefix = "c"

    init(arguments: [String]) throws {
        var remaining = arguments[...]
        while let flag = remaining.popFirst() {
            guard let value = remaining.popFirst() else { throw BenchError.setup("\(flag) needs a value") }
            switch flag {
            case "--port": port = Int(value) ?? 0
            case "--server-key": serverKey = try Hex.decode(value).map { try X25519PublicKey(bytes: $0) }
            case "--pairs": pairs = Int(value) ?? pairs
            case "--in-flight": inFlight = Int(value) ?? inFlight
            case "--warmup": warmup = Double(value) ?? warmup
            case "--duration": duration = Double(value) ?? duration
            case "--prefix": prefix = value
            default: throw BenchError.setup("unknown argument \(flag)")
            }
        }
    }

    func run() async throws {
        let load = RelayLoad(pairs: pairs, mode: .saturate(inFlight: inFlight), warmup: .seconds(warmup), duration: .seconds(duration), prefix: prefix)
        // The parent samples CPU times on these lines (emit flushes: a pipe is fully buffered). Once
        // the window has been measured the result is printed and the process exits, without
        // waiting for 128 connections to wind down: the parent needs nothing more from it.
        _ = try await load.run(port: port, serverKey: serverKey, onWindow: { event in
            emit(event == .start ? "WINDOW_START" : "WINDOW_END")
        }, onResult: { outcome in
            emit(outcome.resultLine)
            exit(0)
        })
    }
}

// MARK: - The machine

func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
}

func printMachine(_ options: BenchOptions) {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    let memory = ProcessInfo.processInfo.physicalMemory
    var limit = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    emit("parley-bench \(options.quick ? "(quick) " : "")-- \(Date())")
    emit("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(model), \(Report.bytes(Int(memory))) RAM, Linux \(release); RLIMIT_NOFILE \(limit.rlim_cur)")
    #if DEBUG
    emit("WARNING: a debug build; numbers mean nothing. Use `make bench` (release).")
    #endif
}
