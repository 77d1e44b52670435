import Conversations
import Primitives

/// Where the client keeps its sealed image files: opaque bytes under random ids, in one flat
/// place, with no peer, time or message in any name.
///
/// The port knows nothing of encryption: ``ImageSealer`` (in this module) seals each image before
/// it is written and opens it after it is read, so the security decisions are made and tested in
/// the application, and an adapter only has to store bytes well. Implemented by
/// `FileSystemImageBlobStore` (`<account>/blobs/<32 hex digits>`) and `InMemoryImageBlobStore`.
/// Every method throws ``StoreError`` only.
public protocol ImageBlobStore: Sendable {
    /// Stores `bytes` as the blob `id`, durably, before returning: a reader sees the whole blob or
    /// none (a crash midway leaves no partial blob under `id`).
    /// - Throws: ``StoreError/alreadyExists(_:)`` when `id` is taken (the existing blob is left
    ///   untouched); ``StoreError/diskFull(_:)`` when there is no room (nothing is left behind);
    ///   ``StoreError/unavailable(_:)`` for any other failure to write.
    func write(_ bytes: [UInt8], as id: ImageBlobID) throws(StoreError)

    /// The bytes of the blob `id`, as written.
    /// - Throws: ``StoreError/notFound(_:)`` when there is no such blob;
    ///   ``StoreError/corrupt(_:)`` when it is larger than any sealed image can be;
    ///   ``StoreError/unavailable(_:)`` when it cannot be read.
    func read(_ id: ImageBlobID) throws(StoreError) -> [UInt8]

    /// Deletes the given blobs. Ids with no blob are ignored, so a repeated removal is harmless.
    /// - Throws: ``StoreError/unavailable(_:)`` when a deletion fails.
    func remove(_ ids: [ImageBlobID]) throws(StoreError)
}
