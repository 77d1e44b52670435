import Conversations
import Envelope
import Primitives

/// One operation a person or a program asks of the logged-in client: the same set for the three
/// front ends (argv, slash commands, JSON-RPC), which only parse into this and render a
/// ``ClientCommandResult``. ``ClientCommandExecutor`` runs it.
public enum ClientCommand: Sendable, Equatable {
    /// Send a text message.
    case send(to: Username, text: String)
    /// Send a PNG (already read by the front end; validated and stripped before sending).
    case sendImage(to: Username, png: [UInt8], fileName: String)
    /// The latest `limit` messages with a user, oldest first.
    case history(with: Username, limit: Int)
    /// Message requests and their messages.
    case requests
    /// All contacts.
    case contacts
    case accept(Username)
    case reject(Username)
    case block(Username)
    case unblock(Username)
    case safetyNumber(Username)
    case verify(Username)
    case trust(Username)
    /// The images exchanged with a user, oldest first (kept sealed). With `save`, each one (or
    /// only image `number`, 1-based) is also written in clear to the image library, at the
    /// person's request.
    case images(Username, save: Bool = false, number: Int? = nil)
    /// Image `number` (1-based, as ``images(_:save:number:)`` lists them), opened in memory:
    /// nothing is written to disk. Not offered by the daemon (its answer would be the PNG).
    case viewImage(Username, number: Int)
    /// The `save-images` setting: read it (nil) or turn it on or off.
    case saveImagesSetting(Bool?)
    /// Send read receipts for received messages; nil ids: every unread one in the latest history.
    case markRead(peer: Username, ids: [MessageID]?)
    /// Erase the conversation with a user on this device (and its images, if asked).
    case deleteHistory(with: Username, includingImages: Bool)
    /// This client's version.
    case version

    /// The most messages ``history(with:limit:)`` returns.
    public static let maxHistoryLimit = 100_000
}

/// What a command did: one shape per kind of thing, rendered by each front end (people's words
/// once, in `parley`'s `CommandText`; JSON once, as `--json` and the daemon print it).
public enum ClientCommandResult: Sendable, Equatable {
    /// A message just sent (send, sendImage).
    case sent(HistoryEntry)
    /// Messages with one peer, oldest first (history).
    case messages(peer: Username, [HistoryEntry])
    /// Message requests, each with its messages (requests).
    case requests([MessageRequest])
    /// Contacts, sorted by name (contacts).
    case contacts([Contact])
    /// A change to one contact (accept, reject, block, unblock, verify, trust).
    case contactChanged(ContactChange, Username)
    /// The safety number with a contact.
    case safetyNumber(peer: Username, SafetyNumber)
    /// The images exchanged with a peer, oldest first (images).
    case images(peer: Username, [ListedImage])
    /// One image opened in memory (viewImage).
    case image(peer: Username, number: Int, entry: HistoryEntry, png: [UInt8])
    /// The `save-images` setting's value after the command (saveImagesSetting).
    case saveImagesSetting(Bool)
    /// How many received messages were marked read.
    case markedRead(peer: Username, count: Int)
    /// The conversation was erased; `imagesRemoved` counts the clear (saved) image files deleted.
    case historyDeleted(peer: Username, includingImages: Bool, imagesRemoved: Int)
    /// The client's version.
    case version(String)
}

/// What ``ClientCommandResult/contactChanged(_:_:)`` did.
public enum ContactChange: String, Sendable, Equatable, CaseIterable {
    case accepted, rejected, blocked, unblocked, verified, trusted
}

/// One image of a conversation as ``ClientCommand/images(_:save:number:)`` lists it.
public struct ListedImage: Sendable, Equatable {
    /// Its 1-based place in the list: the `N` of `view N` and `/save N`.
    public let number: Int
    /// Its history entry (the image stays sealed; the entry holds no path).
    public let entry: HistoryEntry
    /// Where it was written in clear, when this command saved it; nil otherwise.
    public let savedPath: String?

    public init(number: Int, entry: HistoryEntry, savedPath: String?) {
        self.number = number
        self.entry = entry
        self.savedPath = savedPath
    }
}

/// A message request: the stranger's contact and what they wrote.
public struct MessageRequest: Sendable, Equatable {
    public let contact: Contact
    public let messages: [HistoryEntry]

    public init(contact: Contact, messages: [HistoryEntry]) {
        self.contact = contact
        self.messages = messages
    }
}

/// The client's version, as `version` reports it.
public enum ParleyVersion {
    public static let current = "0.13.0"
}
