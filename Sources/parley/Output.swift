import ClientCore
import Conversations
import Envelope
import Foundation
import Primitives
import TerminalIO

/// How `parley` prints things: plain text for people (colour on a terminal), one JSON object per
/// line for programs.
struct Output {
    let json: Bool
    let style: TerminalStyle
    /// The width plain output is wrapped to (the terminal's, or `COLUMNS` when piped), if known.
    let columns: Int?

    init(json: Bool) {
        self.json = json
        style = TerminalStyle.detect()
        columns = displayColumns(for: STDOUT_FILENO)
    }

    func message(_ entry: HistoryEntry, me: Username) {
        if json {
            emit(json: CommandJSON.message(entry, me: me))
        } else {
            printPlain(line(for: entry, me: me))
        }
    }

    /// Prints a line for people, wrapped to the known width with every wrapped part marked: a
    /// message padded to the window's width must not make its tail pass for a line of its own.
    func printPlain(_ text: String) {
        print(columns.map { wrapForDisplay(text, columns: $0) } ?? text)
    }

    func line(for entry: HistoryEntry, me: Username) -> String {
        let time = Self.clockTime(entry.direction == .sent ? entry.sentAt : entry.receivedAt)
        let who = entry.direction == .sent ? style.cyan(me.value) : style.magenta(entry.peer.value)
        let body: String
        switch entry.body {
        // Text from another person never reaches the terminal raw: escape sequences in it could
        // rewrite the screen or forge a prompt, and each continuation line is marked so that it
        // cannot pass for a message line of its own.
        case .text(let text): body = displaySafe(text)
        case .image(_, let width, let height): body = style.dim("[image \(width)x\(height)]")
        }
        var suffix = ""
        if entry.direction == .sent {
            suffix = switch entry.status {
            case .sent: " " + style.dim("✓")
            case .delivered: " " + style.dim("✓✓")
            case .read: " " + style.green("✓✓ read")
            }
        }
        let request = entry.isRequest ? style.yellow(" (request)") : ""
        return "\(style.dim(time)) \(who)\(request): \(body)\(suffix)"
    }

    func info(_ text: String) {
        if json { emit(["message": text]) } else { printPlain(text) }
    }

    /// Prints one JSON value on a line of its own (``JSONValue/line``).
    func emit(json value: JSONValue) {
        print(value.line)
    }

    /// Prints what a command did: its JSON (``CommandJSON/lines(_:me:)``) or its sentences for
    /// people (``CommandText``).
    func result(_ result: ClientCommandResult, me: Username) {
        if json {
            CommandJSON.lines(result, me: me).forEach(emit(json:))
        } else {
            CommandText.lines(for: result, me: me, output: self, surface: .commandLine).forEach(printPlain)
        }
    }

    func emit<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Escaped JSON, never raw terminal controls: encoders leave C1 controls and U+2028 raw.
        if let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8) {
            print(terminalSafeJSON(text))
        }
    }

    /// One line of an image list (`images USER`, `/images`): its number, when, who, its size.
    func imageLine(_ number: Int, _ entry: HistoryEntry, me: Username) -> String {
        guard case .image(_, let width, let height) = entry.body else { return "\(number). (not an image)" }
        let who = entry.direction == .sent ? "sent by \(me)" : "from \(entry.peer)"
        let time = Self.clockTime(entry.direction == .sent ? entry.sentAt : entry.receivedAt)
        return "\(number). \(time) \(who), \(width)x\(height)"
    }

    static func clockTime(_ timestamp: Timestamp) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone.current
        return formatter.string(from: Date(timeIntervalSince1970: Double(timestamp.millisecondsSinceEpoch) / 1000))
    }

    static func iso8601(_ timestamp: Timestamp) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(timestamp.millisecondsSinceEpoch) / 1000))
    }
}

/// A contact as `--json` prints it.
struct ContactRecord: Encodable {
    let username: String
    let status: String
    let verified: Bool
    let identityChanged: Bool
    let identityKey: String

    enum CodingKeys: String, CodingKey {
        case username, status, verified
        case identityChanged = "identity_changed"
        case identityKey = "identity_key"
    }

    init(_ contact: Contact) {
        username = contact.username.value
        status = switch contact.status {
        case .accepted: "accepted"
        case .requested: "request"
        case .blocked: "blocked"
        }
        verified = contact.verified
        identityChanged = contact.identityChanged
        identityKey = Hex.encode(contact.identityKey.bytes)
    }
}
