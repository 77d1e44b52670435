import ClientCore
import Conversations
import Primitives

/// ``ImageBlobStore`` in memory, with the same semantics as `FileSystemImageBlobStore` (a taken
/// id is refused, missing ids are ignored on removal), for tests. ``blobs`` lets a test look at
/// everything stored, or change it (to play an attacker with the disk).
public final class InMemoryImageBlobStore: ImageBlobStore {
    private let stored = LockedValue([ImageBlobID: [UInt8]]())

    public init() {}

    public func write(_ bytes: [UInt8], as id: ImageBlobID) throws(StoreError) {
        try stored.withLock { (blobs: inout [ImageBlobID: [UInt8]]) throws(StoreError) in
            guard blobs[id] == nil else { throw .alreadyExists(id.hex) }
            blobs[id] = bytes
        }
    }

    public func read(_ id: ImageBlobID) throws(StoreError) -> [UInt8] {
        guard let bytes = stored.withLock({ $0[id] }) else { throw .notFound(id.hex) }
        return bytes
    }

    public func remove(_ ids: [ImageBlobID]) throws(StoreError) {
        stored.withLock { blobs in for id in ids { blobs[id] = nil } }
    }

    /// Everything stored, by id.
    public var blobs: [ImageBlobID: [UInt8]] {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}
