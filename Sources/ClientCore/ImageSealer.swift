import Conversations
import Envelope
import Primitives

/// Seals the images of the history into an ``ImageBlobStore`` and opens them again, in memory.
///
/// Each image gets a fresh random 32-byte file key and a fresh random ``ImageBlobID``; the key
/// travels only inside the (sealed) history entry, as a ``SealedImageReference``. A blob is
/// `format (1) || nonce (24) || XChaCha20-Poly1305(png) and tag (16)`, with associated data
/// `"parley image blob" || format || blob id || message id`, so a blob renamed, or swapped with
/// another record's, fails to open exactly as a flipped bit does.
///
/// Why a key per file rather than a subkey of the database's data key: deleting the history entry
/// destroys the only copy of the key, so a blob left behind (a failed unlink, a backup of the
/// folder) is unreadable even to someone who later learns the password; and the image code needs
/// no access to the database's keys.
public struct ImageSealer: Sendable {
    /// The blob layout's version, first byte of every blob and part of its associated data.
    public static let format: UInt8 = 1
    static let nonceByteCount = 24
    static let tagByteCount = 16
    static let label = Array("parley image blob".utf8)
    /// The largest blob a sealed image can make (checked before opening one).
    public static let maxBlobBytes = 1 + nonceByteCount + EnvelopeLimits.maxImageBytes + tagByteCount

    let crypto: any CryptoProvider
    let random: any RandomSource
    let blobs: any ImageBlobStore

    public init(crypto: any CryptoProvider, random: any RandomSource, blobs: any ImageBlobStore) {
        self.crypto = crypto
        self.random = random
        self.blobs = blobs
    }

    /// Seals `png` under a new file key, writes it as a new blob, and returns the reference to
    /// keep in the history entry of `messageID`.
    /// - Throws: the blob store's ``StoreError`` (`diskFull`, `unavailable`); never a crypto error
    ///   for valid input (the AEAD cannot refuse it).
    public func seal(_ png: [UInt8], messageID: MessageID) throws(StoreError) -> SealedImageReference {
        let blobID = ImageBlobID.random(using: random)
        let fileKey: SymmetricKey
        do { fileKey = try SymmetricKey(random.secret(count: SymmetricKey.byteCount)) } catch {
            throw .unavailable("cannot make an image file key: \(error)")
        }
        let nonce = random.bytes(count: Self.nonceByteCount)
        let ciphertext: [UInt8]
        do {
            ciphertext = try crypto.xChaCha20Poly1305Seal(
                png, associatedData: Self.associatedData(blobID: blobID, messageID: messageID), nonce: nonce, key: fileKey)
        } catch {
            throw .unavailable("cannot seal an image: \(error)")
        }
        try blobs.write([Self.format] + nonce + ciphertext, as: blobID)
        return SealedImageReference(blobID: blobID, fileKey: fileKey)
    }

    /// Reads the blob `reference` names and opens it in memory: the image's PNG bytes. Nothing is
    /// written anywhere.
    /// - Throws: ``StoreError/corrupt(_:)`` when the blob fails authentication (damaged, tampered
    ///   with, or belonging to another message) or is malformed; the blob store's
    ///   ``StoreError/notFound(_:)`` when it is missing and `unavailable` when it cannot be read.
    public func open(_ reference: SealedImageReference, messageID: MessageID) throws(StoreError) -> [UInt8] {
        let blob = try blobs.read(reference.blobID)
        let header = 1 + Self.nonceByteCount
        guard blob.count >= header + Self.tagByteCount, blob.count <= Self.maxBlobBytes else {
            throw .corrupt("the sealed image \(reference.blobID.hex) has an impossible size (\(blob.count) bytes)")
        }
        guard blob[0] == Self.format else {
            throw .corrupt("the sealed image \(reference.blobID.hex) has an unknown format \(blob[0])")
        }
        do {
            return try crypto.xChaCha20Poly1305Open(
                Array(blob[header...]), associatedData: Self.associatedData(blobID: reference.blobID, messageID: messageID),
                nonce: Array(blob[1..<header]), key: reference.fileKey)
        } catch {
            throw .corrupt("the sealed image \(reference.blobID.hex) failed authentication: it was damaged, tampered with or swapped")
        }
    }

    /// Deletes the blobs of `references` (missing ones are ignored).
    public func remove(_ references: [SealedImageReference]) throws(StoreError) {
        guard !references.isEmpty else { return }
        try blobs.remove(references.map(\.blobID))
    }

    static func associatedData(blobID: ImageBlobID, messageID: MessageID) -> [UInt8] {
        label + [format] + blobID.bytes + messageID.bytes
    }
}
