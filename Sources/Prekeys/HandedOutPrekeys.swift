import Primitives

/// The one-time prekeys the server handed out whose secrets this device still holds, and since
/// when: the client erases such a secret once nobody used it for
/// ``PrekeyPolicy/handedOutOneTimePrekeyRetention`` (issue 10, finding 7).
///
/// A fetched one-time prekey is gone from the server at once, but its secret stays on the device
/// until a first message uses it, which may never happen (a fetcher that never writes, or one
/// draining the pool on purpose). The server says which ids it still holds (the `prekey status`
/// answer, WIRE.md); every id this device published below its id counter that the server no
/// longer holds and whose secret is still here was handed out and not yet used. Such an id is
/// noted when first seen, and its secret erased when the retention has passed since then: long
/// enough for a first message still in flight (a sender offline between fetch and send), short
/// enough that a drained pool does not keep secrets forever.
///
/// A value with a pure ``reconciling(serverHolds:nextID:now:hasSecret:)``: the client applies the
/// result (erasures and the new value) in one transaction.
public struct HandedOutPrekeys: Sendable, Equatable {
    /// Every id below this is settled: on the server, used, erased, or in ``firstSeenMissing``.
    public var floor: UInt32
    /// When each handed-out, still-held id was first seen missing from the server's pool.
    public var firstSeenMissing: [UInt32: Timestamp]

    public init(floor: UInt32 = 1, firstSeenMissing: [UInt32: Timestamp] = [:]) {
        self.floor = floor
        self.firstSeenMissing = firstSeenMissing
    }

    /// What one reconciliation decided.
    public struct Reconciliation: Sendable, Equatable {
        /// The value to store.
        public var next: HandedOutPrekeys
        /// One-time prekey secrets to erase now.
        public var expired: [UInt32]
    }

    /// Compares the ids the server still holds with this device's ids below `nextID` (the id the
    /// next new one-time prekey would get), at `now`.
    /// - Parameter hasSecret: whether this device still holds the secret of an id.
    public func reconciling(
        serverHolds held: Set<UInt32>, nextID: UInt32, now: Timestamp, hasSecret: (UInt32) throws(StoreError) -> Bool
    ) throws(StoreError) -> Reconciliation {
        var missing = firstSeenMissing
        if floor < nextID {
            for id in floor..<nextID where !held.contains(id) && missing[id] == nil {
                if try hasSecret(id) { missing[id] = now }
            }
        }
        var expired: [UInt32] = []
        for (id, since) in missing {
            let stillHeld = try hasSecret(id)
            if held.contains(id) || !stillHeld {
                // Back in the pool (republished), or used by a first message: nothing to expire.
                missing[id] = nil
            } else if since.adding(PrekeyPolicy.handedOutOneTimePrekeyRetention) <= now {
                expired.append(id)
                missing[id] = nil
            }
        }
        // Everything below the smallest id the server holds has just been looked at.
        let newFloor = max(floor, min(held.min() ?? nextID, nextID))
        return Reconciliation(next: HandedOutPrekeys(floor: newFloor, firstSeenMissing: missing), expired: expired.sorted())
    }
}

extension HandedOutPrekeys {
    static let encodingVersion: UInt8 = 1
    /// Most entries a stored value may claim, checked before allocating.
    static let maxEncodedEntries = 1 << 20

    /// version (u8 = 1) || floor (u32) || count (u32) || (id u32, first seen i64 ms) * count,
    /// ids ascending.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 9 + firstSeenMissing.count * 12)
        writer.write(Self.encodingVersion)
        writer.write(floor)
        writer.write(UInt32(firstSeenMissing.count))
        for (id, since) in firstSeenMissing.sorted(by: { $0.key < $1.key }) {
            writer.write(id)
            writer.write(since.millisecondsSinceEpoch)
        }
        return writer.bytes
    }

    /// - Throws: ``DecodingError`` for anything ``encoded()`` did not make.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("version")
        guard version == Self.encodingVersion else {
            throw .invalidValue(field: "version", reason: "unknown handed-out prekeys version \(version)")
        }
        let floor = try reader.readUInt32("floor")
        let count = Int(try reader.readUInt32("count"))
        guard count <= Self.maxEncodedEntries else { throw .tooLong(field: "entries", length: count, limit: Self.maxEncodedEntries) }
        var entries: [UInt32: Timestamp] = [:]
        for _ in 0..<count {
            let id = try reader.readUInt32("id")
            entries[id] = Timestamp(millisecondsSinceEpoch: try reader.readInt64("first seen"))
        }
        try reader.expectEnd()
        self.init(floor: floor, firstSeenMissing: entries)
    }
}
