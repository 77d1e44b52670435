import ArgumentParser
import ClientCore
import Conversations
import Envelope
import Foundation
import PNGImages
import Primitives
import TerminalIO

/// `parley`: the Parley client. With no command, an interactive session; with a command, log in,
/// do one thing, exit (see CLIError for the exit codes).
@main
struct ParleyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "End-to-end encrypted messaging in your terminal.",
        discussion: """
            With no command, starts an interactive session. Exit codes: 0 success, 64 usage error,
            65 refused by the server (or invalid input), 69 server unreachable or its key changed,
            70 local error, 77 authentication failed.
            """,
        subcommands: [
            Register.self, Send.self, SendImage.self, Receive.self, History.self, Requests.self, Contacts.self,
            Accept.self, Reject.self, Block.self, Unblock.self, SafetyNumberCommand.self, Verify.self, Trust.self,
            Images.self, View.self, SetCommand.self, DeleteHistory.self, DeleteAccount.self, MarkRead.self, VersionCommand.self, Daemon.self,
        ])

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await runCLI { try await InteractiveSession(options: options).run() }
    }
}

/// Runs a command body, turning failures into a message on stderr and the documented exit code.
func runCLI(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("parley: \(error)\n".utf8))
        throw ExitCode(error.exitCode)
    } catch let error as ClientError {
        let cliError = CLIError(error)
        FileHandle.standardError.write(Data("parley: \(cliError)\n".utf8))
        throw ExitCode(cliError.exitCode)
    } catch let error as UsernameError {
        FileHandle.standardError.write(Data("parley: \(error)\n".utf8))
        throw ExitCode(64)
    }
}

/// What every account command shares: log in, run, log out.
protocol AccountCommand: AsyncParsableCommand {
    var options: GlobalOptions { get }
    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws
    /// Runs after the connection has closed (e.g. to erase local files).
    func finish(user: Username, output: Output) throws
}

extension AccountCommand {
    func run() async throws {
        try await runCLI {
            let runtime = try ClientRuntime(options: options)
            let user = try runtime.defaultUser()
            let editor = LineEditor()
            defer { editor.restore() }
            let password = try await PasswordReader.read(options: options, editor: editor, prompt: "Password for \(user): ")
            let output = Output(json: options.json)
            try await runtime.withClient(user: user, password: password, mode: .logIn, terminal: nil) { client, pending, events in
                try await run(client: client, user: user, pending: pending, events: events, output: output, password: password)
            }
            try finish(user: user, output: output)
        }
    }

    func finish(user: Username, output: Output) throws {}
}

func username(_ raw: String) throws -> Username {
    do { return try Username(raw) } catch { throw CLIError.usage("'\(raw)' is not a valid username: \(error)") }
}

struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an account on the server and on this device.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The username: 3-32 of a-z 0-9 _ . -, starting with a letter.") var name: String

    func run() async throws {
        try await runCLI {
            let user = try username(name)
            let runtime = try ClientRuntime(options: options)
            let editor = LineEditor()
            defer { editor.restore() }
            let password = try await PasswordReader.read(options: options, editor: editor, prompt: "Choose a password for \(user): ", confirm: true)
            let output = Output(json: options.json)
            try await runtime.withClient(user: user, password: password, mode: .register, terminal: nil) { _, _, _ in
                if output.json {
                    output.emit(["registered": user.value])
                } else {
                    output.info("Registered \(user) on \(options.serverName).")
                }
            }
        }
    }
}

/// A command that is one ``ClientCommand``: it only parses its arguments into the command and
/// prints the result; ``ClientCommandExecutor`` does the work (through a running daemon when
/// there is one, see ``CommandRoute``).
protocol OperationCommand: AsyncParsableCommand {
    var options: GlobalOptions { get }
    /// The command these arguments ask for (reading a file to send, for instance).
    func clientCommand() throws -> ClientCommand
    /// The JSON-RPC request for it, when a daemon runs it (by default ``RPCMethods/request(for:)``).
    func daemonRequest(for command: ClientCommand) -> (method: String, params: JSONValue)?
}

extension OperationCommand {
    func daemonRequest(for command: ClientCommand) -> (method: String, params: JSONValue)? { RPCMethods.request(for: command) }

    func run() async throws {
        try await runCLI {
            let command = try clientCommand()
            let output = Output(json: options.json)
            let (result, user) = try await CommandRoute(options: options).run(command, request: daemonRequest(for: command))
            output.result(result, me: user)
        }
    }
}

struct Send: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Send a text message (works while the recipient is offline).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The recipient.") var recipient: String
    @Argument(parsing: .remaining, help: "The message text.") var text: [String]

    func clientCommand() throws -> ClientCommand {
        let message = text.joined(separator: " ")
        guard !message.isEmpty else { throw CLIError.usage("nothing to send") }
        return .send(to: try username(recipient), text: message)
    }
}

struct SendImage: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "send-image", abstract: "Send a PNG image (validated and stripped of metadata first).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The recipient.") var recipient: String
    @Argument(help: "A PNG file, at most 10 MiB and 8192x8192.") var file: String

    func clientCommand() throws -> ClientCommand {
        .sendImage(to: try username(recipient), png: try readImageFile(file), fileName: (file as NSString).lastPathComponent)
    }

    /// The daemon reads the file itself (it runs as the same user), by its absolute path.
    func daemonRequest(for command: ClientCommand) -> (method: String, params: JSONValue)? {
        let absolute = file.hasPrefix("/") ? file : FileManager.default.currentDirectoryPath + "/" + file
        return ("sendImage", ["to": .string(recipient), "path": .string(absolute)])
    }
}

/// Reads a file for sending, refusing anything over the image limit before reading it whole.
func readImageFile(_ path: String) throws -> [UInt8] {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? Int else {
        throw CLIError.usage("cannot read \(path)")
    }
    guard size <= EnvelopeLimits.maxImageBytes else {
        throw CLIError.refused("\(path) is \(size) bytes; images are limited to \(EnvelopeLimits.maxImageBytes) bytes (10 MiB)")
    }
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError.usage("cannot read \(path)") }
    return [UInt8](data)
}

struct Receive: AccountCommand {
    static let configuration = CommandConfiguration(abstract: "Fetch, decrypt, store and print what has arrived.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Wait up to this many seconds for at least one message.") var wait: Double = 0

    /// How long a delivery may take to follow the one before it and still count as the same burst.
    static let burstGap = Duration.milliseconds(150)

    func validate() throws {
        guard wait >= 0, wait <= 3600 else { throw ValidationError("--wait must be between 0 and 3600 seconds") }
    }

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        // First everything the server had queued at login...
        await client.waitUntilHandled(pending, timeout: .seconds(60))
        // ...then, if nothing arrived, wait for the first message...
        let waitDeadline = ContinuousClock.now + .milliseconds(Int64(wait * 1000))
        while events.messages.isEmpty, ContinuousClock.now < waitDeadline {
            // False at the deadline or when the connection ended: either way, nothing more comes.
            guard await client.waitUntilHandled(await client.deliveriesHandled + 1, timeout: waitDeadline - ContinuousClock.now) else { break }
        }
        // ...and let a burst that is still arriving land too.
        while await client.waitUntilHandled(await client.deliveriesHandled + 1, timeout: Self.burstGap) {}
        let received = events.messages
        for entry in received { output.message(entry, me: user) }
        let unsaved = events.storageFailures.withLock { $0 }
        if unsaved > 0 {
            throw CLIError.local("\(unsaved) message(s) could not be saved here; they stay on the server and will be retried")
        }
        if received.isEmpty && !output.json { output.info("No new messages.") }
    }
}

struct History: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Show the conversation with a user.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The other user.") var peer: String
    @Option(help: "How many of the latest messages.") var limit = 50

    func validate() throws {
        guard limit > 0, limit <= ClientCommand.maxHistoryLimit else { throw ValidationError("--limit must be 1...100000") }
    }

    func clientCommand() throws -> ClientCommand { .history(with: try username(peer), limit: limit) }
}

struct Requests: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "List message requests (first messages from people you have not accepted).")
    @OptionGroup var options: GlobalOptions
    func clientCommand() throws -> ClientCommand { .requests }
}

struct Contacts: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "List contacts and their state.")
    @OptionGroup var options: GlobalOptions
    func clientCommand() throws -> ClientCommand { .contacts }
}

struct Accept: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Accept a message request.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func clientCommand() throws -> ClientCommand { .accept(try username(peer)) }
}

struct Reject: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Reject a message request: the sender is told and blocked.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func clientCommand() throws -> ClientCommand { .reject(try username(peer)) }
}

struct Block: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Block a user (the server refuses their messages).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func clientCommand() throws -> ClientCommand { .block(try username(peer)) }
}

struct Unblock: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Unblock a user.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func clientCommand() throws -> ClientCommand { .unblock(try username(peer)) }
}

struct SafetyNumberCommand: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "safety-number", abstract: "Show the safety number to compare with a contact.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact.") var peer: String
    func clientCommand() throws -> ClientCommand { .safetyNumber(try username(peer)) }
}

struct Verify: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Record that you compared safety numbers with a contact and they matched.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact.") var peer: String
    func clientCommand() throws -> ClientCommand { .verify(try username(peer)) }
}

struct Trust: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Accept a contact's new identity key without verifying it.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact.") var peer: String
    func clientCommand() throws -> ClientCommand { .trust(try username(peer)) }
}

struct Images: OperationCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the images exchanged with a user (kept encrypted); --save writes them in clear.",
        discussion: """
            Images are kept encrypted on this device. With --save, each one is written as an ordinary
            PNG file, readable by anyone who can read your files, to <account>/images/USER/YYYY-MM-DD/.
            """)
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    @Flag(help: "Write every image of the conversation in clear to the images folder, and print the paths.") var save = false
    @Option(help: "With --save: only image N of the list.") var number: Int?

    func validate() throws {
        if let number, number < 1 { throw ValidationError("--number must be 1 or more") }
    }

    func clientCommand() throws -> ClientCommand { .images(try username(peer), save: save, number: number) }
}

struct MarkRead: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "mark-read", abstract: "Tell a contact their latest messages were read.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact.") var peer: String
    func clientCommand() throws -> ClientCommand { .markRead(peer: try username(peer), ids: nil) }
}

struct VersionCommand: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print this client's version.")
    @OptionGroup var options: GlobalOptions
    func clientCommand() throws -> ClientCommand { .version }
}

struct View: OperationCommand {
    static let configuration = CommandConfiguration(abstract: "Preview image N (as listed by 'images USER') in the terminal; decrypted in memory only.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    @Argument(help: "The image's number in 'images USER'.") var number: Int

    func clientCommand() throws -> ClientCommand { .viewImage(try username(peer), number: number) }

    /// Not through the printing of ``OperationCommand``: the pixels are decoded and previewed here
    /// (the daemon does not offer viewing, so this always runs directly).
    func run() async throws {
        try await runCLI {
            let output = Output(json: options.json)
            let (result, _) = try await CommandRoute(options: options).run(try clientCommand())
            guard case .image(_, let number, let entry, let png) = result else { return }
            let decoded = try decodeImage(png)
            if output.json {
                output.emit(["id": entry.id.hex, "width": "\(decoded.width)", "height": "\(decoded.height)"])
            } else {
                print(imagePreview(decoded, label: "image \(number)", style: output.style))
            }
        }
    }
}

struct SetCommand: OperationCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Show or change a setting: save-images on|off.",
        discussion: """
            save-images (off by default): also write every image received from now on in clear, as an
            ordinary PNG file in <account>/images/PEER/YYYY-MM-DD/. The history keeps its own copy encrypted
            either way.
            """)
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The setting: save-images.") var name: String?
    @Argument(help: "on or off.") var value: String?

    func clientCommand() throws -> ClientCommand { try settingCommand(name: name, value: value) }
}

/// `set [save-images [on|off]]` for both front ends, as a command (no name: show the setting).
func settingCommand(name: String?, value: String?) throws -> ClientCommand {
    guard let name else { return .saveImagesSetting(nil) }
    guard name == "save-images" else { throw CLIError.usage("unknown setting '\(displaySafeLine(name))'; the settings are: save-images") }
    switch value?.lowercased() {
    case nil: return .saveImagesSetting(nil)
    case "on", "yes", "true": return .saveImagesSetting(true)
    case "off", "no", "false": return .saveImagesSetting(false)
    default: throw CLIError.usage("save-images takes on or off")
    }
}

/// Decodes an image's PNG bytes (opened in memory from its sealed file) for display.
func decodeImage(_ png: [UInt8]) throws -> DecodedImage {
    // libpng's message describes bytes a peer sent: made safe before it is shown.
    do { return try LibPNGImageValidator().decode(png) } catch { throw CLIError.local("cannot show the image: \(displaySafeLine("\(error)"))") }
}

/// A half-block colour preview of a decoded image, or a one-line description without colour.
func imagePreview(_ decoded: DecodedImage, label: String, style: TerminalStyle) -> String {
    guard style.isColorEnabled else {
        return "\(label): \(decoded.width)x\(decoded.height) (a preview needs a colour terminal)"
    }
    return TerminalImagePreview(maxColumns: max(10, min(style.width - 2, 80)), maxRows: 40).render(decoded)
}

struct DeleteHistory: OperationCommand {
    static let configuration = CommandConfiguration(commandName: "delete-history", abstract: "Erase the conversation with a user on this device.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    @Flag(help: "Also delete the images saved in clear from this conversation (its encrypted images always go).") var images = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    func clientCommand() throws -> ClientCommand {
        let peer = try username(peer)
        guard yes else { throw CLIError.usage("this erases the conversation with \(peer) on this device; add --yes to confirm") }
        return .deleteHistory(with: peer, includingImages: images)
    }
}

struct DeleteAccount: AccountCommand {
    static let configuration = CommandConfiguration(commandName: "delete-account", abstract: "Delete the account on the server and its data on this device.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func validate() throws {
        guard yes else { throw ValidationError("this deletes your account and all its messages for good; add --yes to confirm") }
    }

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        try await client.deleteAccount(password: password)
    }

    func finish(user: Username, output: Output) throws {
        if let folder = options.accountFolder(user) { try? FileManager.default.removeItem(atPath: folder) }
        output.info("Deleted the account \(user) and its local data.")
    }

}
