import Primitives

/// Something that happened to an account that the node holding its connection must act on.
public enum AccountEvent: Sendable, Equatable {
    /// Envelopes were stored for the account, in id order.
    case envelopesStored([MailboxEnvelope])
    /// A new session logged in to the account; every other session must end.
    case sessionClaimed(SessionToken)
    /// The account's one-time prekeys are running low.
    case prekeysLow(remaining: UInt32)
    /// The account was deleted; every session must end.
    case accountDeleted
}

/// Identifies one logged-in session, so that a session can tell its own claim from another's.
public struct SessionToken: Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
}

/// The "deliver to whoever holds this user's connection" signal, shared by every server node.
///
/// Declared as a port so that one node (the embedded default, `InMemoryEventBus`) and several
/// nodes on one database (a PostgreSQL LISTEN/NOTIFY adapter, not written yet) look the same to
/// the server application. Delivery is best-effort and in publication order per subscriber; the
/// mailbox store stays the source of truth, so a lost event delays a delivery until the next login
/// or event, never loses it.
public protocol AccountEventBus: Sendable {
    /// Publishes `event` to every current subscriber for `user`.
    func publish(_ event: AccountEvent, to user: Username)

    /// Subscribes to `user`'s events until the returned subscription is cancelled.
    func subscribe(_ user: Username) -> AccountEventSubscription

    /// Subscribes `handler` to `user`'s events until the returned subscription is cancelled: the
    /// bus calls it once per event, on the publishing thread, in the order the events reach the
    /// subscriber (as a stream subscription would receive them); it must return quickly and not
    /// publish. No events reach it after `cancel()` has returned. Lighter than
    /// ``subscribe(_:)`` for a long-lived subscriber: no stream, and no task waiting on one.
    func subscribe(_ user: Username, handler: @escaping @Sendable (AccountEvent) -> Void) -> AccountEventHandlerSubscription
}

/// A live handler subscription (``AccountEventBus/subscribe(_:handler:)``): how to end it.
public struct AccountEventHandlerSubscription: Sendable {
    private let onCancel: @Sendable () -> Void

    public init(onCancel: @escaping @Sendable () -> Void) {
        self.onCancel = onCancel
    }

    /// Ends the subscription; the handler is not called again once this returns.
    public func cancel() { onCancel() }
}

/// A live subscription: its events, and how to end it.
public struct AccountEventSubscription: Sendable {
    public let events: AsyncStream<AccountEvent>
    private let onCancel: @Sendable () -> Void

    public init(events: AsyncStream<AccountEvent>, onCancel: @escaping @Sendable () -> Void) {
        self.events = events
        self.onCancel = onCancel
    }

    /// Ends the subscription; its event sequence finishes.
    public func cancel() { onCancel() }
}
