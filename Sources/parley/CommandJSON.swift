import ClientCore
import Conversations
import Envelope
import Foundation
import Primitives

/// The JSON shapes of what commands return, written once: `--json` prints them (one object per
/// line), the daemon answers with them, and docs/parley.openrpc.json documents each once
/// (`Message`, `Contact`, `Request`, `ContactChange`, `SafetyNumber`, `Image`, `MarkedRead`,
/// `HistoryDeleted`, `Version`, `Event`). The command line, when it talks to a daemon, reads
/// them back (``result(decoding:for:)``), so the two paths print the same.
enum CommandJSON {
    // MARK: Things

    static func message(_ entry: HistoryEntry, me: Username) -> JSONValue {
        let sent = entry.direction == .sent
        var object: [String: JSONValue] = [
            "id": .string(entry.id.hex),
            "from": .string(sent ? me.value : entry.peer.value),
            "to": .string(sent ? entry.peer.value : me.value),
            "sent_at": .string(Output.iso8601(entry.sentAt)),
            "received_at": .string(Output.iso8601(entry.receivedAt)),
            "request": .bool(entry.isRequest),
        ]
        switch entry.body {
        case .text(let text):
            object["type"] = "text"
            object["text"] = .string(text)
        case .image(_, let width, let height):
            // Kept sealed: there is no file to name until the person saves it (images --save).
            object["type"] = "image"
            object["width"] = .integer(Int64(width))
            object["height"] = .integer(Int64(height))
        }
        if sent { object["status"] = .string(String(describing: entry.status)) }
        return .object(object)
    }

    static func contact(_ contact: Contact) -> JSONValue {
        let record = ContactRecord(contact)
        return [
            "username": .string(record.username), "status": .string(record.status), "verified": .bool(record.verified),
            "identity_changed": .bool(record.identityChanged), "identity_key": .string(record.identityKey),
        ]
    }

    /// An image of a conversation: its place in the list and its message, and the path of its
    /// clear copy only when this command saved it.
    static func image(_ listed: ListedImage, me: Username) -> JSONValue {
        var object: [String: JSONValue] = ["index": .integer(Int64(listed.number)), "message": message(listed.entry, me: me)]
        if let path = listed.savedPath { object["path"] = .string(path) }
        return .object(object)
    }

    // MARK: Results

    /// The result as the daemon answers it: one value.
    static func result(_ result: ClientCommandResult, me: Username) -> JSONValue {
        switch result {
        case .sent(let entry): message(entry, me: me)
        case .messages(_, let entries): .array(entries.map { message($0, me: me) })
        case .requests(let requests):
            .array(requests.map { ["contact": contact($0.contact), "messages": .array($0.messages.map { message($0, me: me) })] })
        case .contacts(let contacts): .array(contacts.map(contact))
        case .contactChanged(let change, let peer): ["peer": .string(peer.value), "change": .string(change.rawValue)]
        case .safetyNumber(let peer, let number): ["peer": .string(peer.value), "safety_number": .string(number.digits)]
        case .images(_, let listed): .array(listed.map { image($0, me: me) })
        case .image(_, let number, let entry, let png):
            // What `--json view` prints (the daemon does not offer viewing): the pixels stay in memory.
            ["index": .integer(Int64(number)), "id": .string(entry.id.hex), "bytes": .integer(Int64(png.count))]
        case .saveImagesSetting(let enabled): ["setting": "save-images", "enabled": .bool(enabled)]
        case .markedRead(let peer, let count): ["peer": .string(peer.value), "marked": .integer(Int64(count))]
        case .historyDeleted(let peer, let includingImages, let removed):
            ["peer": .string(peer.value), "images": .bool(includingImages), "images_removed": .integer(Int64(removed))]
        case .version(let version): ["version": .string(version)]
        }
    }

    /// The result as `--json` prints it: each item of a list on a line of its own (a request as
    /// its messages, as before), anything else as one object.
    static func lines(_ result: ClientCommandResult, me: Username) -> [JSONValue] {
        switch result {
        case .requests(let requests): requests.flatMap { $0.messages.map { message($0, me: me) } }
        default:
            switch self.result(result, me: me) {
            case .array(let items): items
            case let single: [single]
            }
        }
    }

    // MARK: Events

    /// A logged event as the `event` notification's params.
    static func event(_ logged: LoggedEvent, me: Username) -> JSONValue {
        var object: [String: JSONValue] = ["cursor": .integer(Int64(clamping: logged.cursor)), "at": .string(Output.iso8601(logged.at))]
        switch logged.event {
        case .message(let entry):
            object["type"] = entry.isRequest ? "request" : "message"
            object["message"] = message(entry, me: me)
        case .receipts(let peer, let ids, let status):
            object["type"] = "receipt"
            object["peer"] = .string(peer.value)
            object["status"] = .string(String(describing: status))
            object["ids"] = .array(ids.map { .string($0.hex) })
        case .requestDeclined(let peer):
            object["type"] = "requestDeclined"
            object["peer"] = .string(peer.value)
        case .identityChanged(let peer):
            object["type"] = "identityChanged"
            object["peer"] = .string(peer.value)
        case .connection(let connected, let reason):
            object["type"] = "connection"
            object["connected"] = .bool(connected)
            object["reason"] = .string(reason)
        }
        return .object(object)
    }

    // MARK: Reading answers back

    /// The result the daemon answered for `command`, read back into the model; nil when the
    /// answer does not have the documented shape.
    static func result(decoding value: JSONValue, for command: ClientCommand, me: Username) -> ClientCommandResult? {
        switch command {
        case .send, .sendImage:
            return entry(value, me: me).map(ClientCommandResult.sent)
        case .history(let peer, _):
            guard let items = value.arrayValue else { return nil }
            let entries = items.compactMap { entry($0, me: me) }
            return entries.count == items.count ? .messages(peer: peer, entries) : nil
        case .requests:
            guard let items = value.arrayValue else { return nil }
            let requests = items.compactMap { item -> MessageRequest? in
                guard let contact = item["contact"].flatMap(contact(decoding:)), let raw = item["messages"]?.arrayValue else { return nil }
                let messages = raw.compactMap { entry($0, me: me) }
                return messages.count == raw.count ? MessageRequest(contact: contact, messages: messages) : nil
            }
            return requests.count == items.count ? .requests(requests) : nil
        case .contacts:
            guard let items = value.arrayValue else { return nil }
            let contacts = items.compactMap(contact(decoding:))
            return contacts.count == items.count ? .contacts(contacts) : nil
        case .accept, .reject, .block, .unblock, .verify, .trust:
            guard let change = value["change"]?.stringValue.flatMap(ContactChange.init(rawValue:)),
                let peer = value["peer"]?.stringValue.flatMap({ try? Username($0) })
            else { return nil }
            return .contactChanged(change, peer)
        case .safetyNumber(let peer):
            return value["safety_number"]?.stringValue.flatMap(SafetyNumber.init(digits:)).map { .safetyNumber(peer: peer, $0) }
        case .images(let peer, _, _):
            guard let items = value.arrayValue else { return nil }
            let listed = items.compactMap { item -> ListedImage? in
                guard let number = item["index"]?.integerValue, let entry = item["message"].flatMap({ entry($0, me: me) }) else { return nil }
                return ListedImage(number: Int(number), entry: entry, savedPath: item["path"]?.stringValue)
            }
            return listed.count == items.count ? .images(peer: peer, listed) : nil
        case .viewImage, .saveImagesSetting:
            // Not daemon methods: always run directly.
            return nil
        case .markRead(let peer, _):
            return value["marked"]?.integerValue.map { .markedRead(peer: peer, count: Int($0)) }
        case .deleteHistory(let peer, let includingImages):
            return value["images_removed"]?.integerValue.map { .historyDeleted(peer: peer, includingImages: includingImages, imagesRemoved: Int($0)) }
        case .version:
            return value["version"]?.stringValue.map(ClientCommandResult.version)
        }
    }

    static func entry(_ value: JSONValue, me: Username) -> HistoryEntry? {
        guard let idHex = value["id"]?.stringValue, let idBytes = Hex.decode(idHex), let id = try? MessageID(bytes: idBytes),
            let from = value["from"]?.stringValue.flatMap({ try? Username($0) }),
            let to = value["to"]?.stringValue.flatMap({ try? Username($0) }),
            let sentAt = value["sent_at"]?.stringValue.flatMap(timestamp), let receivedAt = value["received_at"]?.stringValue.flatMap(timestamp),
            let isRequest = value["request"]?.boolValue
        else { return nil }
        let direction: HistoryEntry.Direction = from == me ? .sent : .received
        let body: HistoryEntry.Body
        switch value["type"]?.stringValue {
        case "text":
            guard let text = value["text"]?.stringValue else { return nil }
            body = .text(text)
        case "image":
            guard let width = value["width"]?.integerValue, let height = value["height"]?.integerValue,
                let w = UInt32(exactly: width), let h = UInt32(exactly: height)
            else { return nil }
            // The daemon does not hand out an image's file key: an entry read back from its answer
            // is only printed, so it carries a reference that opens nothing.
            body = .image(unopenableImage, width: w, height: h)
        default:
            return nil
        }
        let status: HistoryEntry.Status =
            switch value["status"]?.stringValue {
            case "read": .read
            case "sent": .sent
            default: .delivered
            }
        return HistoryEntry(
            id: id, peer: direction == .sent ? to : from, direction: direction, body: body, sentAt: sentAt, receivedAt: receivedAt,
            status: status, isRequest: isRequest)
    }

    /// A sealed-image reference naming no blob under an all-zero key (see ``entry(_:me:)``).
    static let unopenableImage = SealedImageReference(
        blobID: try! ImageBlobID(bytes: [UInt8](repeating: 0, count: ImageBlobID.byteCount)),
        fileKey: try! SymmetricKey(SecretBytes(copying: [UInt8](repeating: 0, count: SymmetricKey.byteCount))))

    static func contact(decoding value: JSONValue) -> Contact? {
        guard let name = value["username"]?.stringValue.flatMap({ try? Username($0) }),
            let keyBytes = value["identity_key"]?.stringValue.flatMap({ Hex.decode($0) }),
            let key = try? Ed25519PublicKey(bytes: keyBytes),
            let verified = value["verified"]?.boolValue, let changed = value["identity_changed"]?.boolValue
        else { return nil }
        let status: Contact.Status
        switch value["status"]?.stringValue {
        case "accepted": status = .accepted
        case "request": status = .requested
        case "blocked": status = .blocked
        default: return nil
        }
        return Contact(username: name, identityKey: key, status: status, verified: verified, identityChanged: changed)
    }

    static func timestamp(_ text: String) -> Timestamp? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: text) else { return nil }
        return Timestamp(millisecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1000).rounded()))
    }
}
