import Envelope
import Primitives

/// One line of a conversation as the client keeps it.
public struct HistoryEntry: Sendable, Hashable {
    public enum Direction: UInt8, Sendable, Hashable {
        case sent = 1
        case received = 2
    }

    /// What the message showed.
    public enum Body: Sendable, Hashable {
        case text(String)
        /// An image kept sealed on this device (see ``SealedImageReference``); it is written in
        /// clear only when the person saves it.
        case image(SealedImageReference, width: UInt32, height: UInt32)
    }

    /// How far a sent message got.
    public enum Status: UInt8, Sendable, Hashable, Comparable {
        /// The server accepted it durably.
        case sent = 1
        /// The recipient's device decrypted it (delivery receipt).
        case delivered = 2
        /// The recipient saw it (read receipt).
        case read = 3

        public static func < (lhs: Status, rhs: Status) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public let id: MessageID
    public let peer: Username
    public let direction: Direction
    public let body: Body
    /// The sender's clock.
    public let sentAt: Timestamp
    /// When this device stored it.
    public let receivedAt: Timestamp
    public var status: Status
    /// Arrived as a message request (from someone not yet accepted).
    public var isRequest: Bool

    public init(id: MessageID, peer: Username, direction: Direction, body: Body, sentAt: Timestamp, receivedAt: Timestamp, status: Status, isRequest: Bool) {
        self.id = id
        self.peer = peer
        self.direction = direction
        self.body = body
        self.sentAt = sentAt
        self.receivedAt = receivedAt
        self.status = status
        self.isRequest = isRequest
    }
}
