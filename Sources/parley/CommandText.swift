import ClientCore
import Conversations
import Primitives
import TerminalIO

/// People's words for what a command did: written once, for both front ends that print text (the
/// argv commands and the interactive session's slash commands). Scripts read JSON instead
/// (``CommandJSON``), which the daemon answers with too.
enum CommandText {
    /// Where the text is shown: the one-shot command line, or the interactive chat (whose hints
    /// name slash commands and whose sent messages show as conversation lines).
    enum Surface {
        case commandLine, chat

        /// How a hint names a command here: `accept bob` or `/accept bob`.
        func command(_ words: String) -> String { self == .chat ? "/" + words : words }
    }

    /// The lines that tell a person what `result` did.
    static func lines(for result: ClientCommandResult, me: Username, output: Output, surface: Surface) -> [String] {
        let style = output.style
        switch result {
        case .sent(let entry):
            if surface == .chat { return [output.line(for: entry, me: me)] }
            if case .image(_, let width, let height) = entry.body {
                return ["Sent a \(width)x\(height) image to \(entry.peer) (metadata removed)."]
            }
            return ["Sent to \(entry.peer) (stored by the server)."]
        case .messages(let peer, let entries):
            if entries.isEmpty { return [surface == .chat ? style.dim("No messages with \(peer).") : "No messages with \(peer)."] }
            return entries.map { output.line(for: $0, me: me) }
        case .requests(let requests):
            if requests.isEmpty { return ["No message requests."] }
            return requests.flatMap { request -> [String] in
                let peer = request.contact.username
                let heading = style.yellow("Request from \(peer)")
                    + style.dim(" (\(surface.command("accept \(peer)")) or \(surface.command("reject \(peer)")))")
                return [heading] + request.messages.map { "  " + output.line(for: $0, me: me) }
            }
        case .contacts(let contacts):
            if contacts.isEmpty { return ["No contacts yet."] }
            return contacts.map { contact in
                var flags = [ContactRecord(contact).status]
                if contact.verified { flags.append(style.green("verified")) }
                if contact.identityChanged { flags.append(style.red("IDENTITY CHANGED")) }
                return "\(contact.username)  \(flags.joined(separator: ", "))"
            }
        case .contactChanged(let change, let peer):
            return [contactChanged(change, peer, style: style)]
        case .safetyNumber(let peer, let number):
            // On the command line, the number alone: scripts compare it as it is.
            if surface == .commandLine { return [number.grouped] }
            return ["Safety number with \(peer) (compare it with theirs, then /verify \(peer)):\n  \(style.bold(number.grouped))"]
        case .images(let peer, let listed):
            if listed.isEmpty { return ["No images with \(peer)."] }
            return listed.map { image in
                output.imageLine(image.number, image.entry, me: me) + (image.savedPath.map { " — saved in clear: \(displaySafe($0))" } ?? "")
            }
        case .image(_, let number, let entry, _):
            // The front ends decode and preview the pixels themselves (``imagePreview``).
            guard case .image(_, let width, let height) = entry.body else { return [] }
            return ["image \(number): \(width)x\(height)"]
        case .saveImagesSetting(let enabled):
            return ["save-images is " + (enabled ? style.yellow("on") + ": received images are also saved in clear" : "off: images are kept encrypted only")]
        case .markedRead(let peer, let count):
            return ["Marked \(count) message(s) from \(peer) read."]
        case .historyDeleted(let peer, let includingImages, let removed):
            return ["Deleted the conversation with \(peer)" + (includingImages ? " and \(removed) saved image(s)." : ".")]
        case .version(let version):
            return ["parley \(version)"]
        }
    }

    /// The sentence for a change to a contact (accept, reject, block, unblock, verify, trust).
    static func contactChanged(_ change: ContactChange, _ peer: Username, style: TerminalStyle) -> String {
        switch change {
        case .accepted: "\(peer) is now a contact."
        case .rejected: "Rejected and blocked \(peer)."
        case .blocked: "Blocked \(peer)."
        case .unblocked: "Unblocked \(peer)."
        case .verified: style.green("\(peer) is verified.")
        case .trusted: "Trusting \(peer)'s current identity key (not verified)."
        }
    }
}
