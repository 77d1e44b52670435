import Envelope
import Primitives

/// Where received images are kept on disk, one folder per peer and per day.
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
}
