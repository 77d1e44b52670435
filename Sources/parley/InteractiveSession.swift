import ClientCore
import Conversations
import Envelope
import Foundation
import PNGImages
import Primitives
import TerminalIO

/// The interactive client: log in or register, then chat. Incoming messages appear above the
/// input line without disturbing what is being typed.
struct InteractiveSession {
    let options: GlobalOptions

    /// How a logged-in session ended.
    enum Ending { case logOut, quit }

    func run() async throws {
        let runtime = try ClientRuntime(options: options)
        let editor = LineEditor()
        defer { editor.restore() }
        let style = TerminalStyle.detect()
        editor.printAbove(style.bold("Parley") + " — end-to-end encrypted messages. Server \(options.serverName). Ctrl-D quits.")
        // `--user NAME` has already chosen the account: ask for its password at once (and again
        // after a wrong one) instead of asking for the name again with NAME as the default. The
        // username prompt comes back once that account is done with: logged out, the password
        // prompt left with Ctrl-C or Ctrl-D, or no such account on this device.
        var named = options.user.flatMap { try? Username($0) }
        while true {
            let account: (Username, ClientRuntime.Mode)
            if let name = named, let preselected = namedAccount(name, editor: editor) {
                account = preselected
            } else {
                named = nil
                guard let chosen = try await chooseAccount(runtime: runtime, editor: editor) else { return }
                account = chosen
            }
            let (user, mode) = account
            let prompt = mode == .register ? "Choose a password for \(user): " : "Password for \(user): "
            let password: SecretBytes
            do {
                password = try await PasswordReader.read(options: options, editor: editor, prompt: prompt, confirm: mode == .register)
            } catch let error as CLIError {
                editor.printAbove(style.red(error.description))
                named = nil
                continue
            }
            do {
                let ending = try await runtime.withClient(user: user, password: password, mode: mode, terminal: editor) { client, pending, events in
                    let chat = ChatLoop(client: client, user: user, editor: editor, style: style, events: events, options: options)
                    return try await chat.run(pending: pending, password: password)
                }
                if ending == .quit { return }
                named = nil
            } catch let error as CLIError {
                editor.printAbove(style.red(error.description))
                if case .unreachable = error { return }
            }
        }
    }

    /// The account `--user` names, to log in to; nil (after saying why) when this device has no
    /// such account for the server, so that the person is asked instead.
    private func namedAccount(_ name: Username, editor: LineEditor) -> (Username, ClientRuntime.Mode)? {
        if options.localAccounts().all.contains(name) { return (name, .logIn) }
        editor.printAbove("There is no account \(name) on this device for \(options.serverName). Type 'register \(name)' to create it.")
        return nil
    }

    /// Asks which account to use; nil when the user quits.
    private func chooseAccount(runtime: ClientRuntime, editor: LineEditor) async throws -> (Username, ClientRuntime.Mode)? {
        let accounts = options.localAccounts()
        let suggestion = options.user ?? accounts.last?.value ?? (accounts.all.count == 1 ? accounts.all[0].value : nil)
        while true {
            let prompt = suggestion.map { "Username [\($0)] (or 'register NAME'): " } ?? "Username (or 'register NAME'): "
            switch await editor.readLine(prompt: prompt) {
            case .interrupt, .endOfInput:
                return nil
            case .line(let raw):
                let text = raw.trimmingCharacters(in: .whitespaces)
                let words = text.split(separator: " ").map(String.init)
                if words.first == "register", words.count == 2 {
                    guard let name = try? Username(words[1]) else {
                        editor.printAbove("'\(words[1])' is not a valid username (3-32 of a-z 0-9 _ . -, starting with a letter)")
                        continue
                    }
                    return (name, .register)
                }
                guard let chosen = text.isEmpty ? suggestion : text, let name = try? Username(chosen) else {
                    editor.printAbove("enter a username, or 'register NAME' to create an account")
                    continue
                }
                if accounts.all.contains(name) { return (name, .logIn) }
                editor.printAbove("There is no account \(name) on this device for \(options.serverName). Type 'register \(name)' to create it.")
            }
        }
    }
}

/// The logged-in part of the interactive session.
final class ChatLoop: Sendable {
    let client: ParleyClient
    let user: Username
    let editor: LineEditor
    let style: TerminalStyle
    let events: EventSink
    let options: GlobalOptions

    /// The conversation being shown, shared with the event handler.
    private let current = LockedValue<Username?>(nil)
    private let ended = LockedValue(false)
    /// Whose images the last `/images` listed: the conversation `/view N` and `/save N` number.
    private let lastImages = LockedValue<Username?>(nil)

    init(client: ParleyClient, user: Username, editor: LineEditor, style: TerminalStyle, events: EventSink, options: GlobalOptions) {
        self.client = client
        self.user = user
        self.editor = editor
        self.style = style
        self.events = events
        self.options = options
    }

    private var output: Output { Output(json: false) }

    func run(pending: Int, password: SecretBytes) async throws -> InteractiveSession.Ending {
        events.setHandler { [self] event in handle(event) }
        defer { events.setHandler(nil) }
        editor.printAbove(style.green("Logged in as \(user).") + (pending > 0 ? " \(pending) message(s) waiting." : "") + " Type /help for commands.")
        while !ended.withLock({ $0 }) {
            let peer = current.withLock { $0 }
            let prompt = peer.map { "\(user) → \($0)> " } ?? "\(user)> "
            switch await editor.readLine(prompt: prompt) {
            case .interrupt, .endOfInput:
                return .quit
            case .line(let raw):
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.isEmpty { continue }
                do {
                    if line.hasPrefix("/") {
                        if let ending = try await command(line, password: password) { return ending }
                    } else if let peer {
                        try await run(.send(to: peer, text: line))
                    } else {
                        editor.printAbove("Choose a conversation first: /chat USER (or /help).")
                    }
                } catch let error as ClientError {
                    // Through CLIError: a refusal's text is the server's, made safe there.
                    editor.printAbove(style.red(CLIError(error).description))
                } catch let error as CLIError {
                    editor.printAbove(style.red(error.description))
                }
            }
        }
        return .logOut
    }

    private func handle(_ event: ClientEvent) {
        switch event {
        case .message(let entry):
            if entry.peer == current.withLock({ $0 }) {
                editor.printAbove(output.line(for: entry, me: user))
                if !entry.isRequest { Task { await client.markRead([entry.id], from: entry.peer) } }
            } else {
                let kind = entry.isRequest ? "Message request" : "New message"
                editor.printAbove(style.yellow("● \(kind) from \(entry.peer)") + style.dim(" (/chat \(entry.peer))"))
            }
        case .receipts(let peer, _, let status):
            if peer == current.withLock({ $0 }), status == .read { editor.printAbove(style.dim("\(peer) read your messages ✓✓")) }
        case .identityChanged(let peer):
            editor.printAbove(style.red(style.bold("⚠ \(peer)'s identity key has changed!")) + " Messages to \(peer) are held. Compare safety numbers (/safety \(peer)), then /verify \(peer) or /trust \(peer).")
        case .identityMismatch(let peer):
            editor.printAbove(style.red(EventSink.identityMismatchNotice(from: peer)))
        case .requestDeclined(let peer):
            editor.printAbove(style.yellow("\(peer) declined your message request."))
        case .decryptionFailed(let peer, let retryRequested):
            editor.printAbove(style.dim(EventSink.decryptionFailureNotice(from: peer, retryRequested: retryRequested)))
        case .storageFailed(let peer, let error):
            editor.printAbove(style.red(EventSink.storageFailureNotice(from: peer, error: error)))
        case .imageRefused(let peer, let reason):
            editor.printAbove(style.yellow("An image from \(peer) was refused and dropped: \(displaySafeLine(reason))"))
        case .imageSaveFailed(let peer, let error):
            editor.printAbove(style.yellow(EventSink.imageSaveFailureNotice(from: peer, error: error)))
        case .signedInElsewhere:
            editor.printAbove(style.red("This account logged in elsewhere; this session has ended."))
            ended.withLock { $0 = true }
        case .disconnected(let reason):
            editor.printAbove(style.red("Disconnected: \(displaySafeLine(reason))"))
            ended.withLock { $0 = true }
        }
    }

    /// Runs a slash command; returns an ending when the session should stop.
    private func command(_ line: String, password: SecretBytes) async throws -> InteractiveSession.Ending? {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let name = words[0].lowercased()
        let arguments = Array(words.dropFirst())
        func peerArgument(_ index: Int = 0) throws -> Username {
            if arguments.count > index { return try username(arguments[index]) }
            if let peer = current.withLock({ $0 }) { return peer }
            throw CLIError.usage("\(name) needs a user (or an open /chat)")
        }
        switch name {
        case "/help":
            editor.printAbove(Self.help)
        case "/quit", "/exit":
            return .quit
        case "/chat":
            let peer = try peerArgument()
            current.withLock { $0 = peer }
            guard case .messages(_, let entries) = try await ClientCommandExecutor(client: client).execute(.history(with: peer, limit: 20)) else {
                return nil
            }
            editor.printAbove(style.bold("— conversation with \(peer) —") + (entries.isEmpty ? style.dim(" (no messages yet)") : ""))
            for entry in entries { editor.printAbove(output.line(for: entry, me: user)) }
            let unread = entries.filter { $0.direction == .received && !$0.isRequest }.map(\.id)
            await client.markRead(unread, from: peer)
        case "/image":
            guard let peer = current.withLock({ $0 }) else { throw CLIError.usage("open a conversation with /chat USER first") }
            guard let path = arguments.first else { throw CLIError.usage("/image PATH") }
            try await run(.sendImage(to: peer, png: try readImageFile(path), fileName: (path as NSString).lastPathComponent))
        case "/history":
            let limit = arguments.count > 1 ? Int(arguments[1]) ?? 50 : 50
            try await run(.history(with: try peerArgument(), limit: limit))
        case "/requests":
            try await run(.requests)
        case "/accept":
            try await run(.accept(try peerArgument()))
        case "/reject":
            try await run(.reject(try peerArgument()))
        case "/block":
            try await run(.block(try peerArgument()))
        case "/unblock":
            try await run(.unblock(try peerArgument()))
        case "/contacts":
            try await run(.contacts)
        case "/safety":
            try await run(.safetyNumber(try peerArgument()))
        case "/verify":
            try await run(.verify(try peerArgument()))
        case "/trust":
            try await run(.trust(try peerArgument()))
        case "/images":
            let peer = try peerArgument()
            try await run(.images(peer))
            lastImages.withLock { $0 = peer }
        case "/view", "/save":
            let (peer, number) = try chosenImage(arguments, command: name)
            if name == "/view" {
                // Opened in memory: nothing is written to disk.
                guard case .image(_, _, _, let png) = try await ClientCommandExecutor(client: client).execute(.viewImage(peer, number: number)) else {
                    return nil
                }
                editor.printAbove(imagePreview(try decodeImage(png), label: "image \(number)", style: style))
            } else {
                let result = try await ClientCommandExecutor(client: client).execute(.images(peer, save: true, number: number))
                if case .images(_, let listed) = result, let path = listed.first?.savedPath {
                    editor.printAbove("Saved in clear (readable by anyone who can read your files): \(displaySafe(path))")
                }
            }
        case "/set":
            try await run(try settingCommand(name: arguments.first, value: arguments.dropFirst().first))
        case "/delete-history":
            let peer = try peerArgument()
            guard await confirm("Erase the conversation with \(peer) on this device? [y/N] ") else { return nil }
            let images = await confirm("Also delete the images you saved in clear from it? [y/N] ")
            try await run(.deleteHistory(with: peer, includingImages: images))
        case "/logout":
            try await client.logOut()
            editor.printAbove("Logged out. Your history stays on this device.")
            return .logOut
        case "/delete-account":
            guard await confirm(style.red("Delete the account \(user) and all its messages for good? [y/N] ")) else { return nil }
            guard let typed = await PasswordReader.secret(editor, prompt: "Password to confirm: ") else { return nil }
            try await client.deleteAccount(password: typed)
            if let folder = options.accountFolder(user) { try? FileManager.default.removeItem(atPath: folder) }
            editor.printAbove("Deleted the account \(user).")
            return .logOut
        default:
            editor.printAbove("Unknown command \(name). /help lists them.")
        }
        return nil
    }

    /// Runs one command through the shared executor and prints what it did (``CommandText``).
    @discardableResult
    private func run(_ command: ClientCommand) async throws(ClientError) -> ClientCommandResult {
        let result = try await ClientCommandExecutor(client: client).execute(command)
        for line in CommandText.lines(for: result, me: user, output: output, surface: .chat) { editor.printAbove(line) }
        return result
    }

    private func confirm(_ question: String) async -> Bool {
        if case .line(let answer) = await editor.readLine(prompt: question) {
            return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
        }
        return false
    }

    /// The image `/view N` or `/save N` names: N of the last `/images` list, or of the open
    /// conversation's images when none was listed (the executor checks that N exists).
    private func chosenImage(_ arguments: [String], command: String) throws -> (Username, Int) {
        guard let peer = lastImages.withLock({ $0 }) ?? current.withLock({ $0 }) else {
            throw CLIError.usage("\(command) N needs /images USER (or an open /chat) first")
        }
        guard let number = arguments.first.flatMap(Int.init), number >= 1 else {
            throw CLIError.usage("\(command) N, where N is a number from /images")
        }
        return (peer, number)
    }

    static let help = """
        /chat USER          open a conversation (recent history first); plain lines are sent to USER
        /image PATH         send a PNG to the open conversation
        /history [USER] [N] show the last N messages
        /requests           message requests waiting for /accept or /reject
        /accept USER        accept a request          /reject USER   decline it and block the sender
        /block USER         block                     /unblock USER  unblock
        /contacts           contacts and their state
        /safety USER        the safety number to compare
        /verify USER        mark it compared           /trust USER    accept a changed key unverified
        /images USER        list the conversation's images (kept encrypted)
        /view N             preview image N (decrypted in memory only)
        /save N             write image N in clear to images/USER/YYYY-MM-DD/
        /set save-images on|off   also save every received image in clear (off by default)
        /delete-history USER   erase a conversation on this device
        /logout  /delete-account  /help  /quit     (Ctrl-D quits too)
        """
}
