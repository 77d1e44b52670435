import Conversations
import Envelope
import Primitives
import WireProtocol

extension ParleyClient {
    /// Everyone we have exchanged messages with, sorted by name.
    public func contacts() throws(ClientError) -> [Contact] {
        try stored { () throws(StoreError) in try stores.contacts.allContacts() }
    }

    /// Conversations waiting for accept or reject, with their messages.
    public func requests() throws(ClientError) -> [(contact: Contact, messages: [HistoryEntry])] {
        let pending = try contacts().filter { $0.status == .requested }
        return try pending.map { contact throws(ClientError) in
            (contact, try stored { () throws(StoreError) in try stores.history.entries(with: contact.username, limit: 50) })
        }
    }

    /// The latest `limit` messages with `peer`, oldest first.
    public func history(with peer: Username, limit: Int = 50) throws(ClientError) -> [HistoryEntry] {
        try stored { () throws(StoreError) in try stores.history.entries(with: peer, limit: limit) }
    }

    /// Accepts a message request: the sender becomes a contact, and learns (by delivery receipts)
    /// that the messages sent while it was a request arrived.
    public func accept(_ peer: Username) async throws(ClientError) {
        guard var contact = try stored({ () throws(StoreError) in try stores.contacts.contact(named: peer) }) else { throw .unknownContact(peer) }
        let waiting = try stored { () throws(StoreError) in try stores.history.entries(with: peer, limit: EnvelopeLimits.maxReceiptIDs) }
            .filter { $0.direction == .received && $0.isRequest }
            .map(\.id)
        contact.status = .accepted
        try transaction { store throws(StoreError) in
            try store.contacts.saveContact(contact)
            try store.history.clearRequestFlag(for: peer)
        }
        // Best effort: a receipt that cannot be sent only leaves the sender's ticks at "sent".
        if !waiting.isEmpty, ContactPolicy.maySend(to: contact) {
            _ = try? await deliver(MessageContent(id: MessageID.random(using: random), sentAt: now(), body: .deliveryReceipt(waiting)), to: peer)
        }
    }

    /// Rejects a message request: tells the sender it was declined, then blocks them here and on
    /// the server.
    public func reject(_ peer: Username) async throws(ClientError) {
        guard let contact = try stored({ () throws(StoreError) in try stores.contacts.contact(named: peer) }) else { throw .unknownContact(peer) }
        // Best effort: if their identity changed or no session can be made, the block still applies.
        _ = try? await deliver(MessageContent(id: MessageID.random(using: random), sentAt: now(), body: .requestDeclined), to: peer)
        try await block(peer, knownContact: contact)
    }

    /// Blocks `peer`: the server refuses their messages and this device drops any that slip through.
    public func block(_ peer: Username) async throws(ClientError) {
        try await block(peer, knownContact: try stored { () throws(StoreError) in try stores.contacts.contact(named: peer) })
    }

    private func block(_ peer: Username, knownContact: Contact?) async throws(ClientError) {
        _ = try requireSession()
        _ = try await call(.block(username: peer))
        if var contact = knownContact {
            contact.status = .blocked
            try stored { () throws(StoreError) in try stores.contacts.saveContact(contact) }
        }
    }

    /// Unblocks `peer` on the server and here (they become an accepted contact again).
    public func unblock(_ peer: Username) async throws(ClientError) {
        _ = try requireSession()
        _ = try await call(.unblock(username: peer))
        if var contact = try stored({ () throws(StoreError) in try stores.contacts.contact(named: peer) }), contact.status == .blocked {
            contact.status = .accepted
            try stored { () throws(StoreError) in try stores.contacts.saveContact(contact) }
        }
    }

    /// The safety number for the conversation with `peer` (both sides compute the same).
    public func safetyNumber(with peer: Username) throws(ClientError) -> SafetyNumber {
        let (username, identity) = try requireSession()
        guard let contact = try stored({ () throws(StoreError) in try stores.contacts.contact(named: peer) }) else { throw .unknownContact(peer) }
        return SafetyNumber(localUsername: username, localIdentity: identity.publicKey, remoteUsername: peer, remoteIdentity: contact.identityKey, crypto: crypto)
    }

    /// Records that the user compared safety numbers with `peer` and they matched; also confirms
    /// a changed identity key.
    public func verify(_ peer: Username) throws(ClientError) {
        try confirmIdentity(of: peer, verified: true)
    }

    /// Accepts `peer`'s new identity key without claiming to have compared safety numbers.
    public func trust(_ peer: Username) throws(ClientError) {
        try confirmIdentity(of: peer, verified: false)
    }

    private func confirmIdentity(of peer: Username, verified: Bool) throws(ClientError) {
        guard var contact = try stored({ () throws(StoreError) in try stores.contacts.contact(named: peer) }) else { throw .unknownContact(peer) }
        contact.verified = verified
        contact.identityChanged = false
        try stored { () throws(StoreError) in try stores.contacts.saveContact(contact) }
    }

    /// The images exchanged with `peer`, as their history entries, oldest first.
    public func images(with peer: Username) throws(ClientError) -> [HistoryEntry] {
        let entries = try stored { () throws(StoreError) in try stores.history.entries(with: peer, limit: ClientLimits.maxImagesListed) }
        return entries.filter { if case .image = $0.body { true } else { false } }
    }

    /// The PNG bytes of an image of the history, opened in memory (nothing is written).
    /// - Throws: ``ClientError/storage(_:)`` with ``StoreError/corrupt(_:)`` when its sealed file
    ///   fails authentication (damaged, tampered with, or another image's file put in its place),
    ///   ``StoreError/notFound(_:)`` when the file is missing, and the blob store's error when it
    ///   cannot be read; ``ClientError/invalidMessage(_:)`` for an entry that is not an image.
    public func imagePNG(of entry: HistoryEntry) throws(ClientError) -> [UInt8] {
        guard case .image(let reference, _, _) = entry.body else { throw .invalidMessage("that message is not an image") }
        let sealer = imageSealer
        return try stored { () throws(StoreError) in try sealer.open(reference, messageID: entry.id) }
    }

    /// Writes an image of the history in clear to the image library
    /// (`images/<peer>/<YYYY-MM-DD>/...`), at the person's request, and returns its path. Saving
    /// one already saved returns the existing file's path.
    /// - Throws: as ``imagePNG(of:)``; ``ClientError/image(_:)`` when the opened bytes do not
    ///   validate (they were validated before they were sealed, so only a bug gets here); the
    ///   library's ``StoreError`` when the file cannot be written.
    @discardableResult
    public func saveImage(_ entry: HistoryEntry) throws(ClientError) -> String {
        let png = try imagePNG(of: entry)
        // The type-state holds here too: only the validator makes a ValidatedImage.
        let validated: ValidatedImage
        do { validated = try imageValidator.validate(UntrustedImage(bytes: png)) } catch { throw .image(error) }
        do {
            return try stores.images.save(validated, peer: entry.peer, messageID: entry.id, receivedAt: entry.receivedAt)
        } catch .alreadyExists(let path) {
            return path
        } catch {
            throw .storage(error)
        }
    }

    /// Whether every received image is also written in clear to the image library (off unless
    /// turned on).
    public func savesReceivedImages() throws(ClientError) -> Bool {
        try stored { () throws(StoreError) in try ClientSettings.savesReceivedImages(in: stores.settings) }
    }

    /// Turns the `save-images` setting on or off. It applies to images received from then on;
    /// earlier ones are saved with ``saveImage(_:)``.
    public func setSavesReceivedImages(_ enabled: Bool) throws(ClientError) {
        try stored { () throws(StoreError) in try ClientSettings.setSavesReceivedImages(enabled, in: stores.settings) }
    }

    /// Erases the conversation with `peer` on this device, with the sealed files of its images;
    /// the images saved in clear from it are deleted too when asked.
    /// - Returns: how many clear image files were deleted.
    @discardableResult
    public func deleteHistory(with peer: Username, includingImages: Bool) throws(ClientError) -> Int {
        let sealed = try stored { () throws(StoreError) in try stores.history.removeConversation(with: peer) }
        // The entries held the only copies of the file keys: what is left of a blob that cannot
        // be deleted now is unreadable, but deleting it is still the point.
        let sealer = imageSealer
        try stored { () throws(StoreError) in try sealer.remove(sealed) }
        guard includingImages else { return 0 }
        let saved = try stored { () throws(StoreError) in try stores.images.images(from: peer) }
        try stored { () throws(StoreError) in try stores.images.remove(saved) }
        return saved.count
    }
}
