import ClientCore
import Foundation
import Primitives
import TerminalIO

#if canImport(Glibc)
import Glibc
#endif

/// The command line's side of a running daemon: one blocking Unix-socket connection, one
/// JSON-RPC request, one answer. Plain POSIX calls, no event loop: a command that finds a
/// daemon is done in milliseconds.
final class DaemonClient {
    private let descriptor: Int32

    /// Connects to the daemon at `path`; nil when nothing listens there (no daemon: go direct).
    init?(path: String) {
        guard path.utf8.count <= DaemonSocket.maxPathBytes else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Asks the daemon for `command` and reads its answer back into the model.
    /// - Throws: the ``CLIError`` the daemon's error mirrors (same exit codes as the direct path).
    func run(_ command: ClientCommand, request: (method: String, params: JSONValue), me: Username) throws(CLIError) -> ClientCommandResult {
        let (method, params) = request
        let answer = try call(method: method, params: params)
        guard let result = CommandJSON.result(decoding: answer, for: command, me: me) else {
            throw .local("the daemon answered \(method) with something this client cannot read")
        }
        return result
    }

    /// One request; the `result` of the answer.
    func call(method: String, params: JSONValue) throws(CLIError) -> JSONValue {
        let request: JSONValue = ["jsonrpc": "2.0", "id": 1, "method": .string(method), "params": params]
        var line = Array(request.line.utf8)
        line.append(0x0A)
        var written = 0
        while written < line.count {
            let count = line[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw .unreachable("the daemon closed the connection") }
            written += count
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !answer.contains(0x0A) {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw .unreachable("the daemon closed the connection before answering") }
            answer.append(contentsOf: buffer[0..<count])
        }
        guard let value = JSONValue.parse(Array(answer.prefix { $0 != 0x0A })) else { throw .local("the daemon's answer is not JSON") }
        if let error = value["error"] {
            let message = error["message"]?.stringValue ?? "the daemon refused the request"
            throw RPCError.cliError(reason: error["data"]?["reason"]?.stringValue ?? "", message: displaySafeLine(message))
        }
        return value["result"] ?? .null
    }
}
