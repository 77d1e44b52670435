import ClientCore
import Foundation
import Primitives
import TerminalIO

/// Runs one ``ClientCommand`` for the command line: through the account's running daemon when
/// one listens on its socket (no password, no Argon2id, no login), otherwise directly (unlock the
/// local store, connect, log in, execute, log out). `--no-daemon` forces the direct path, and so
/// does a command the daemon does not offer (``RPCMethods/request(for:)`` is nil).
struct CommandRoute {
    let options: GlobalOptions

    func run(_ command: ClientCommand, request: (method: String, params: JSONValue)? = nil) async throws -> (ClientCommandResult, Username) {
        let runtime = try ClientRuntime(options: options)
        let user = try runtime.defaultUser()
        if !options.noDaemon, let request = request ?? RPCMethods.request(for: command),
            let daemon = DaemonClient(path: DaemonSocket.path(for: user, explicit: options.socket))
        {
            return (try daemon.run(command, request: request, me: user), user)
        }
        let editor = LineEditor()
        defer { editor.restore() }
        let password = try await PasswordReader.read(options: options, editor: editor, prompt: "Password for \(user): ")
        let result = try await runtime.withClient(user: user, password: password, mode: .logIn, terminal: nil) { client, _, _ in
            try await ClientCommandExecutor(client: client).execute(command)
        }
        return (result, user)
    }
}
