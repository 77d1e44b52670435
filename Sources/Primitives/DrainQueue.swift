/// A queue with a single drainer: producers append items, and the one producer that finds no
/// drainer running is told to start one; the drainer takes what is queued, a batch at a time,
/// until it finds the queue empty, which ends its turn. So a burst of items costs one drainer
/// (one task, one flush, one transaction) instead of one per item, and items keep their order.
///
/// A plain value with no lock of its own: the owner keeps it under the lock (or in the actor)
/// that guards whatever else must change atomically with it (a subscription's generation, a
/// "deliveries may start" gate). It replaces four hand-written copies of "append; start one
/// drainer; loop until empty" (the server's answer and event queues, the mailbox writer's flush
/// flag, the client's acknowledgements), each with its own flag to hand over correctly.
///
/// The contract, which every user relies on: ``append(_:startAllowed:)`` or ``claim()`` returns
/// true to exactly one caller per turn; that caller must then call ``take(upTo:)`` until it
/// returns an empty array (which ends the turn), or the items queued meanwhile wait forever.
public struct DrainQueue<Item> {
    /// What is queued and not yet taken, oldest first.
    public private(set) var items: [Item] = []
    /// Whether a drainer's turn is running (claimed and not yet ended by an empty ``take(upTo:)``).
    public private(set) var isDraining = false

    public init() {}

    /// Whether nothing is queued.
    public var isEmpty: Bool { items.isEmpty }

    /// Appends `item`. Returns true when the caller must start the drainer: none is running and
    /// `startAllowed` (false queues the item for a drainer started later through ``claim()``,
    /// e.g. events that must wait until a catch-up is done).
    public mutating func append(_ item: Item, startAllowed: Bool = true) -> Bool {
        items.append(item)
        return startAllowed && claim()
    }

    /// Makes the caller the drainer when none is running and something is queued; returns
    /// whether it did.
    public mutating func claim() -> Bool {
        guard !isDraining, !items.isEmpty else { return false }
        isDraining = true
        return true
    }

    /// For the drainer: the oldest `limit` items (all by default), removed from the queue. When
    /// nothing is queued it ends the drainer's turn and returns an empty array.
    public mutating func take(upTo limit: Int = .max) -> [Item] {
        guard !items.isEmpty else {
            isDraining = false
            return []
        }
        let limit = max(1, limit)
        guard limit < items.count else {
            var taken: [Item] = []
            swap(&taken, &items)
            return taken
        }
        let taken = Array(items.prefix(limit))
        items.removeFirst(limit)
        return taken
    }

    /// Drops what is queued and forgets the running turn. A drainer still running must find out
    /// on its own that it no longer owns the queue (its owner keeps a generation for that).
    public mutating func reset() {
        items = []
        isDraining = false
    }
}

extension DrainQueue: Sendable where Item: Sendable {}
