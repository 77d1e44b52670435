import Conversations
import Envelope
import Primitives

/// Seals the plain image files that schema 2 wrote automatically (`images/<peer>/<date>/...`,
/// named in its history entries) into the blob store, for the client store's data migration to
/// schema 3, which runs right after unlock (the sealed entries need the data key).
///
/// The migration rewrites each entry in one transaction and only then calls
/// ``removePlainFiles(_:)``: a crash before the commit leaves the old entries and files for the
/// next open (the blobs written meanwhile are removed or, if the process died, left unreferenced
/// and unreadable); a crash after it leaves at most some plain files behind, which the next
/// `delete-history --images` deletes.
///
/// Why the plain files are removed rather than kept: the previous version wrote them without
/// asking, so keeping them in clear was never the person's choice, and leaving them would keep
/// exactly what the security review found (who the person talks to, and their pictures, readable
/// without the password). Anyone who wants a clear copy saves it again (`/save N`).
public struct LegacyImageImport: Sendable {
    let sealer: ImageSealer
    let library: any ImageLibrary

    public init(sealer: ImageSealer, library: any ImageLibrary) {
        self.sealer = sealer
        self.library = library
    }

    /// What became of one legacy image.
    public struct Sealed: Sendable {
        /// The reference for the rewritten entry.
        public let reference: SealedImageReference
        /// The plain file to remove once the rewritten entry is committed; nil when it was gone.
        public let plainFile: String?
    }

    /// Seals the file the previous version recorded as `path` for message `messageID`. A file
    /// that is gone (deleted by hand) still gets a reference, to a blob that does not exist, so the
    /// entry stays in history and viewing it says the file is missing.
    /// - Throws: the blob store's ``StoreError`` (`diskFull`, `unavailable`), or the library's
    ///   when the file exists but cannot be read; the migration then stays queued.
    public func seal(legacyPath path: String, messageID: MessageID) throws(StoreError) -> Sealed {
        let found: (path: String, png: [UInt8])
        do {
            found = try library.legacyImage(at: path)
        } catch .notFound {
            return Sealed(reference: try sealer.missing(), plainFile: nil)
        }
        return Sealed(reference: try sealer.seal(found.png, messageID: messageID), plainFile: found.path)
    }

    /// Removes the sealed blobs of a migration that did not commit.
    public func discard(_ sealed: [Sealed]) {
        try? sealer.remove(sealed.map(\.reference))
    }

    /// Removes the plain files whose entries now refer to sealed copies (best effort: a file that
    /// cannot be removed now stays, and is listed among the saved images).
    public func removePlainFiles(_ sealed: [Sealed]) {
        let paths = sealed.compactMap(\.plainFile)
        guard !paths.isEmpty else { return }
        try? library.remove(paths)
    }
}

extension ImageSealer {
    /// A reference to no blob at all, for an image whose file had already gone when it was
    /// migrated: opening it reports ``StoreError/notFound(_:)``.
    func missing() throws(StoreError) -> SealedImageReference {
        do {
            return SealedImageReference(blobID: .random(using: random), fileKey: try SymmetricKey(random.secret(count: SymmetricKey.byteCount)))
        } catch {
            throw .unavailable("cannot make an image file key: \(error)")
        }
    }
}
