import Envelope
import Primitives

/// Where images are written **in clear** when the person saves them (`/save N`, `parley images
/// USER --save`, or the `save-images` setting for every received image), one folder per peer and
/// per day. The history itself keeps its images sealed (``ImageBlobStore``, ``ImageSealer``); this
/// library holds only what the person asked to have as ordinary files.
///
/// A port so that the client application decides *when* an image is saved or deleted and the
/// adapter (`FileSystemImageLibrary`) decides *how*: names, permissions, and never writing or
/// deleting outside its own folder. Only a ``ValidatedImage`` can be saved, so the disk never
/// holds bytes a peer sent verbatim. Paths are returned as plain strings because the user opens
/// them with other programs. Every method throws ``StoreError`` only.
public protocol ImageLibrary: Sendable {
    /// Writes `image` as a new file owned by the user alone, named from `peer`, the UTC date and
    /// time of `receivedAt` and `messageID`, and returns its path.
    /// - Throws: ``StoreError/alreadyExists(_:)`` when that file already exists (the same message
    ///   saved twice; the existing file is left untouched); ``StoreError/unavailable(_:)`` when the
    ///   folder or file cannot be created or written.
    func save(_ image: ValidatedImage, peer: Username, messageID: MessageID, receivedAt: Timestamp) throws(StoreError) -> String

    /// The paths of every image saved from `peer`, sorted (which is oldest first, since paths begin
    /// with the date and time). Empty when there are none.
    /// - Throws: ``StoreError/unavailable(_:)`` when the folder exists but cannot be read.
    func images(from peer: Username) throws(StoreError) -> [String]

    /// Deletes the given image files and any date folder left empty. Paths that no longer exist are
    /// ignored, so a repeated removal is harmless.
    /// - Throws: ``StoreError/notFound(_:)`` naming the first path that is not an image inside this
    ///   library (then nothing is deleted, so a bad path cannot make the user lose half a selection);
    ///   ``StoreError/unavailable(_:)`` when a deletion fails.
    func remove(_ paths: [String]) throws(StoreError)

    /// For the migration of schema 2, whose client wrote every image here automatically: the
    /// bytes of the file the previous version recorded as `path`, found by its place in the
    /// library (`…/images/<peer>/<YYYY-MM-DD>/<name>.png`) below *this* root, wherever the account
    /// folder was when it was written, and that file's path now (to ``remove(_:)`` it).
    /// - Throws: ``StoreError/notFound(_:)`` when `path` does not have that shape or the file is
    ///   gone; ``StoreError/corrupt(_:)`` when it is larger than an image may be;
    ///   ``StoreError/unavailable(_:)`` when it cannot be read.
    func legacyImage(at path: String) throws(StoreError) -> (path: String, png: [UInt8])
}
