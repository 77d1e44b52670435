import ArgumentParser
import ClientCore
import Dispatch
import Foundation
import Primitives
import SodiumCrypto
import TerminalIO

#if canImport(Glibc)
import Glibc
#endif

/// `parley daemon`: logs in once, keeps the connection (reconnecting with back-off) and serves
/// JSON-RPC 2.0 on a Unix socket (and, if asked, loopback TCP with a token) for bots and scripts,
/// and for the command line itself. See docs/parley.openrpc.json.
struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stay logged in and serve JSON-RPC 2.0 (one JSON object per line) on a Unix socket.",
        discussion: """
            The socket is $XDG_RUNTIME_DIR/parley/USER.sock (else $TMPDIR/parley-UID/USER.sock), mode 0600 in a \
            0700 folder. --tcp 127.0.0.1:PORT also listens on a loopback port; its clients send the token \
            (printed once, kept in the home, mode 0600) as the first request's params.auth.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(name: .customLong("tcp"), help: "Also listen on this loopback address (127.0.0.1:PORT or [::1]:PORT).")
    var tcp: String?
    @Flag(name: .customLong("openrpc"), help: "Print the OpenRPC document describing the methods, then exit.")
    var openrpc = false
    @Option(name: .customLong("subscriber-buffer"), help: ArgumentHelp("Outbound bytes a subscriber may fall behind by.", visibility: .hidden))
    var subscriberBuffer = 1 << 20
    @Option(name: .customLong("subscriber-stall"), help: ArgumentHelp("Seconds a subscriber's full buffer may wait for it to read.", visibility: .hidden))
    var subscriberStall = 10.0

    func validate() throws {
        if let tcp { guard Self.loopback(tcp) != nil else { throw ValidationError("--tcp must be a loopback address: 127.0.0.1:PORT or [::1]:PORT") } }
        guard (4096...(64 << 20)).contains(subscriberBuffer) else { throw ValidationError("--subscriber-buffer must be 4096...67108864") }
        guard (0.1...3600).contains(subscriberStall) else { throw ValidationError("--subscriber-stall must be 0.1...3600 seconds") }
    }

    func run() async throws {
        if openrpc {
            print(OpenRPCDocument.text, terminator: "")
            return
        }
        try await runCLI {
            let runtime = try ClientRuntime(options: options)
            let user = try runtime.defaultUser()
            let path = DaemonSocket.path(for: user, explicit: options.socket)
            try DaemonSocket.prepare(path)
            let editor = LineEditor()
            let password = try await PasswordReader.read(options: options, editor: editor, prompt: "Password for \(user): ")
            editor.restore()
            let state = DaemonState(
                user: user, subscriberBufferBytes: subscriberBuffer, subscriberStall: .milliseconds(Int64(subscriberStall * 1000)))
            var tcpListener: (host: String, port: Int, token: String)?
            if let tcp, let (host, port) = Self.loopback(tcp) {
                tcpListener = (host, port, try token(for: user, runtime: runtime))
            }
            let server = try await RPCServer.start(state: state, path: path, tcp: tcpListener)
            Self.removeSocketOnExit(path)
            Self.log("listening on \(path)" + (server.tcpPort.map { " and \(tcpListener!.host):\($0)" } ?? ""))
            try await serve(runtime: runtime, user: user, password: password, state: state)
        }
    }

    /// Logs in, attaches the client to the listeners until the connection ends, and does it
    /// again with back-off (1 s doubling to 30 s). A wrong password ends the daemon.
    private func serve(runtime: ClientRuntime, user: Username, password: SecretBytes, state: DaemonState) async throws {
        var backoff = Duration.seconds(1)
        while true {
            do {
                try await runtime.withClient(user: user, password: password, mode: .logIn, terminal: nil, retainEvents: false) { client, _, sink in
                    backoff = .seconds(1)
                    let (ended, ending) = AsyncStream<Void>.makeStream()
                    sink.setHandler { event in
                        state.signal.fire()
                        switch event {
                        case .disconnected, .signedInElsewhere: ending.yield()
                        default: break
                        }
                    }
                    state.attach(client)
                    Self.log("logged in as \(user)")
                    for await _ in ended { break }
                    state.detach()
                }
            } catch let error as CLIError where error.exitCode == CLIError.authentication("").exitCode {
                throw error
            } catch {
                Self.log("\(error); reconnecting in \(backoff)")
            }
            state.detach()
            try await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(30))
        }
    }

    /// The TCP token: read from `<home>/daemon-<user>.token`, or made (32 random bytes, hex),
    /// stored there with mode 0600 and printed once.
    private func token(for user: Username, runtime: ClientRuntime) throws -> String {
        let path = options.resolvedHome.root + "/daemon-\(user.value).token"
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if token.count == 64 { return token }
        }
        let token = Hex.encode(runtime.random.bytes(count: 32))
        try? Home.makeFolder(options.resolvedHome.root)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw CLIError.local("cannot write \(path)") }
        defer { close(descriptor) }
        let bytes = Array((token + "\n").utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw CLIError.local("cannot write \(path)") }
        // Unbuffered: whoever started the daemon reads it at once, even from a pipe or a file.
        FileHandle.standardOutput.write(Data("TCP token (kept in \(path)): \(token)\n".utf8))
        return token
    }

    /// `127.x.x.x:PORT`, `localhost:PORT` or `[::1]:PORT`; nil for anything else.
    static func loopback(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        let parts = host.split(separator: ".")
        let isV4Loopback = parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
        guard isV4Loopback || host == "::1" else { return nil }
        return (host, port)
    }

    /// SIGINT and SIGTERM remove the socket and end the process. What was committed is durable
    /// (every transaction is); a delivery in flight is simply delivered again at the next login.
    private static func removeSocketOnExit(_ path: String) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                unlink(path)
                Glibc.exit(0)
            }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Kept alive for the life of the process; written once, at start, from the main task.
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    static func log(_ text: String) {
        FileHandle.standardError.write(Data("parley daemon: \(displaySafeLine(text))\n".utf8))
    }
}
