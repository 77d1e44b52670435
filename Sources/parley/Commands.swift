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
            Images.self, View.self, SetCommand.self, DeleteHistory.self, DeleteAccount.self,
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

struct Send: AccountCommand {
    static let configuration = CommandConfiguration(abstract: "Send a text message (works while the recipient is offline).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The recipient.") var recipient: String
    @Argument(parsing: .remaining, help: "The message text.") var text: [String]

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        let message = text.joined(separator: " ")
        guard !message.isEmpty else { throw CLIError.usage("nothing to send") }
        let entry = try await client.send(text: message, to: try username(recipient))
        if output.json { output.message(entry, me: user) } else { output.info("Sent to \(recipient) (stored by the server).") }
    }
}

struct SendImage: AccountCommand {
    static let configuration = CommandConfiguration(commandName: "send-image", abstract: "Send a PNG image (validated and stripped of metadata first).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The recipient.") var recipient: String
    @Argument(help: "A PNG file, at most 10 MiB and 8192x8192.") var file: String

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        let entry = try await client.send(image: try readImageFile(file), fileName: (file as NSString).lastPathComponent, to: try username(recipient))
        if output.json { output.message(entry, me: user) } else { output.info("Sent \(file) to \(recipient) (metadata removed).") }
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

    func validate() throws {
        guard wait >= 0, wait <= 3600 else { throw ValidationError("--wait must be between 0 and 3600 seconds") }
    }

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        // First everything the server had queued at login...
        let drainDeadline = ContinuousClock.now + .seconds(60)
        while await client.deliveriesHandled < pending, ContinuousClock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        // ...then, if nothing arrived, wait for the first message.
        let waitDeadline = ContinuousClock.now + .milliseconds(Int64(wait * 1000))
        while events.messages.isEmpty, ContinuousClock.now < waitDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Let a burst that is still arriving land too.
        var settled = await client.deliveriesHandled
        while true {
            try await Task.sleep(for: .milliseconds(150))
            let now = await client.deliveriesHandled
            if now == settled { break }
            settled = now
        }
        let received = events.messages
        for entry in received { output.message(entry, me: user) }
        let unsaved = events.storageFailures.withLock { $0 }
        if unsaved > 0 {
            throw CLIError.local("\(unsaved) message(s) could not be saved here; they stay on the server and will be retried")
        }
        if received.isEmpty && !output.json { output.info("No new messages.") }
    }
}

struct History: AccountCommand {
    static let configuration = CommandConfiguration(abstract: "Show the conversation with a user.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The other user.") var peer: String
    @Option(help: "How many of the latest messages.") var limit = 50

    func validate() throws {
        guard limit > 0, limit <= 100_000 else { throw ValidationError("--limit must be 1...100000") }
    }

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        let entries = try await client.history(with: try username(peer), limit: limit)
        for entry in entries { output.message(entry, me: user) }
        if entries.isEmpty && !output.json { output.info("No messages with \(peer).") }
    }
}

struct Requests: AccountCommand {
    static let configuration = CommandConfiguration(abstract: "List message requests (first messages from people you have not accepted).")
    @OptionGroup var options: GlobalOptions

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        let requests = try await client.requests()
        for request in requests {
            if output.json {
                for message in request.messages { output.message(message, me: user) }
            } else {
                output.info("\(output.style.yellow("Request from \(request.contact.username)")) (accept or reject):")
                for message in request.messages { output.info("  " + output.line(for: message, me: user)) }
            }
        }
        if requests.isEmpty && !output.json { output.info("No message requests.") }
    }
}

struct Contacts: AccountCommand {
    static let configuration = CommandConfiguration(abstract: "List contacts and their state.")
    @OptionGroup var options: GlobalOptions

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        let contacts = try await client.contacts()
        for contact in contacts {
            if output.json {
                output.emit(ContactRecord(contact))
            } else {
                let record = ContactRecord(contact)
                var flags = [record.status]
                if contact.verified { flags.append("verified") }
                if contact.identityChanged { flags.append(output.style.red("IDENTITY CHANGED")) }
                output.info("\(contact.username)  \(flags.joined(separator: ", "))")
            }
        }
        if contacts.isEmpty && !output.json { output.info("No contacts yet.") }
    }
}

/// A command that names one user and does one thing to them.
protocol PeerCommand: AccountCommand {
    var peer: String { get }
    func act(on peer: Username, client: ParleyClient, output: Output) async throws
}

extension PeerCommand {
    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        try await act(on: try username(peer), client: client, output: output)
    }
}

struct Accept: PeerCommand {
    static let configuration = CommandConfiguration(abstract: "Accept a message request.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        try await client.accept(peer)
        output.info("\(peer) is now a contact.")
    }
}

struct Reject: PeerCommand {
    static let configuration = CommandConfiguration(abstract: "Reject a message request: the sender is told and blocked.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        try await client.reject(peer)
        output.info("Rejected and blocked \(peer).")
    }
}

struct Block: PeerCommand {
    static let configuration = CommandConfiguration(abstract: "Block a user (the server refuses their messages).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        try await client.block(peer)
        output.info("Blocked \(peer).")
    }
}

struct Unblock: PeerCommand {
    static let configuration = CommandConfiguration(abstract: "Unblock a user.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        try await client.unblock(peer)
        output.info("Unblocked \(peer).")
    }
}

struct SafetyNumberCommand: PeerCommand {
    static let configuration = CommandConfiguration(commandName: "safety-number", abstract: "Show the safety number to compare with a contact.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact.") var peer: String
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        let number = try await client.safetyNumber(with: peer)
        if output.json {
            output.emit(["peer": peer.value, "safety_number": number.digits])
        } else {
            print(number.grouped)
        }
    }
}

struct Verify: PeerCommand {
    static let configuration = CommandConfiguration(abstract: "Record that you compared safety numbers with a contact and they matched.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact.") var peer: String
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        try await client.verify(peer)
        output.info("\(peer) is verified.")
    }
}

struct Trust: PeerCommand {
    static let configuration = CommandConfiguration(abstract: "Accept a contact's new identity key without verifying it.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The contact.") var peer: String
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        try await client.trust(peer)
        output.info("Trusting \(peer)'s current identity key (not verified).")
    }
}

struct Images: PeerCommand {
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

    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        let entries = try await client.images(with: peer)
        if let number, !(1...max(1, entries.count)).contains(number) || entries.isEmpty {
            throw CLIError.usage("there are \(entries.count) image(s) with \(peer); choose 1...\(entries.count)")
        }
        for (index, entry) in entries.enumerated() where number == nil || number == index + 1 {
            var path: String?
            if save { path = try await client.saveImage(entry) }
            if output.json {
                var record = ["index": "\(index + 1)", "id": entry.id.hex]
                if case .image(_, let width, let height) = entry.body { (record["width"], record["height"]) = ("\(width)", "\(height)") }
                record["path"] = path
                output.emit(record)
            } else {
                let me = await client.username ?? peer
                print(output.imageLine(index + 1, entry, me: me) + (path.map { " — saved in clear: \($0)" } ?? ""))
            }
        }
        if entries.isEmpty && !output.json { output.info("No images with \(peer).") }
    }
}

struct View: PeerCommand {
    static let configuration = CommandConfiguration(abstract: "Preview image N (as listed by 'images USER') in the terminal; decrypted in memory only.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    @Argument(help: "The image's number in 'images USER'.") var number: Int
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        let entries = try await client.images(with: peer)
        guard number >= 1, number <= entries.count else { throw CLIError.usage("there are \(entries.count) image(s) with \(peer); choose 1...\(entries.count)") }
        let entry = entries[number - 1]
        let decoded = try decodeImage(try await client.imagePNG(of: entry))
        if output.json {
            output.emit(["id": entry.id.hex, "width": "\(decoded.width)", "height": "\(decoded.height)"])
        } else {
            print(imagePreview(decoded, label: "image \(number)", style: output.style))
        }
    }
}

struct SetCommand: AccountCommand {
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

    func run(client: ParleyClient, user: Username, pending: Int, events: EventSink, output: Output, password: SecretBytes) async throws {
        let enabled = try await applySetting(name: name, value: value, client: client)
        output.info("save-images is \(enabled ? "on: received images are also saved in clear" : "off: images are kept encrypted only")")
    }
}

/// `set [save-images [on|off]]` for both front ends; returns the setting's value afterwards.
func applySetting(name: String?, value: String?, client: ParleyClient) async throws -> Bool {
    guard let name else { return try await client.savesReceivedImages() }
    guard name == "save-images" else { throw CLIError.usage("unknown setting '\(displaySafeLine(name))'; the settings are: save-images") }
    switch value?.lowercased() {
    case nil: break
    case "on", "yes", "true": try await client.setSavesReceivedImages(true)
    case "off", "no", "false": try await client.setSavesReceivedImages(false)
    default: throw CLIError.usage("save-images takes on or off")
    }
    return try await client.savesReceivedImages()
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

struct DeleteHistory: PeerCommand {
    static let configuration = CommandConfiguration(commandName: "delete-history", abstract: "Erase the conversation with a user on this device.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "The user.") var peer: String
    @Flag(help: "Also delete the images saved in clear from this conversation (its encrypted images always go).") var images = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    func act(on peer: Username, client: ParleyClient, output: Output) async throws {
        guard yes else { throw CLIError.usage("this erases the conversation with \(peer) on this device; add --yes to confirm") }
        let removed = try await client.deleteHistory(with: peer, includingImages: images)
        output.info("Deleted the conversation with \(peer)" + (images ? " and \(removed) saved image(s)." : "."))
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
