import Conversations
import Envelope
import Prekeys
import Primitives
import WireProtocol

extension ParleyClient {
    /// Sends a text message. Returns once the server has stored it durably; works while the
    /// recipient is offline.
    @discardableResult
    public func send(text: String, to peer: Username) async throws(ClientError) -> HistoryEntry {
        guard !text.isEmpty else { throw .invalidMessage("an empty message is not sent") }
        guard text.utf8.count <= EnvelopeLimits.maxTextBytes else {
            throw .invalidMessage("the message is longer than \(EnvelopeLimits.maxTextBytes) bytes")
        }
        let id = MessageID.random(using: random)
        let entry = try await deliver(.text(text), id: id, to: peer)
        return try record(entry, body: .text(text))
    }

    /// Validates an image with libpng, re-encodes it without metadata, and sends it.
    @discardableResult
    public func send(image bytes: [UInt8], fileName: String, to peer: Username) async throws(ClientError) -> HistoryEntry {
        let validated: ValidatedImage
        do { validated = try imageValidator.validate(UntrustedImage(bytes: bytes, fileName: fileName)) } catch { throw .image(error) }
        let safeName = String(fileName.split(separator: "/").last ?? "image.png").prefix(EnvelopeLimits.maxFileNameBytes / 4)
        let attachment = MessageContent.ImageAttachment(png: validated.png, fileName: String(safeName), width: UInt32(validated.width), height: UInt32(validated.height))
        let id = MessageID.random(using: random)
        let entry = try await deliver(.image(attachment), id: id, to: peer)
        // Keep our own copy where received images go, so history can show it too.
        let path = try stored { try stores.images.save(validated, peer: peer, messageID: id, receivedAt: entry.sentAt) }
        return try record(entry, body: .image(path: path, width: UInt32(validated.width), height: UInt32(validated.height)))
    }

    private func record(_ entry: HistoryEntry, body: HistoryEntry.Body) throws(ClientError) -> HistoryEntry {
        let final = HistoryEntry(id: entry.id, peer: entry.peer, direction: .sent, body: body, sentAt: entry.sentAt, receivedAt: entry.receivedAt, status: .sent, isRequest: false)
        try stored { try stores.history.append(final) }
        return final
    }

    /// Encrypts `body` for `peer` (starting a session from their bundle if needed) and hands it to
    /// the server. Also used for receipts and request declines, which are not recorded in history.
    func deliver(_ body: MessageContent.Body, id: MessageID, to peer: Username) async throws(ClientError) -> HistoryEntry {
        let (_, identity) = try requireSession()
        var contact = try stored { try stores.contacts.contact(named: peer) }
        if let contact {
            guard contact.status != .blocked else { throw .contactBlocked(peer) }
            guard ContactPolicy.maySend(to: contact) else { throw .identityUnconfirmed(peer) }
        }
        var session: Session
        if let existing = try stored({ try stores.sessions.session(with: peer) }), existing.peerIdentityKey == contact?.identityKey {
            session = existing
        } else {
            session = try await startSession(with: peer, identity: identity, contact: &contact)
        }
        let sentAt = now()
        let content = MessageContent(id: id, sentAt: sentAt, body: body)
        let envelope: CiphertextEnvelope
        do { envelope = try cipher.encrypt(content, in: &session) } catch { throw .encryption("\(error)") }
        // Save the advanced ratchet before sending, so a crash can never reuse a message key.
        try stored { try stores.sessions.saveSession(session) }
        do {
            _ = try await call(.send(recipient: peer, recipientIdentity: session.peerIdentityKey, envelope: envelope.encoded))
        } catch .refused(let error) where error.code == .identityChanged {
            // The account was registered again: learn the new key, warn, and hold sending.
            try await refreshIdentity(of: peer, identity: identity)
            throw .identityUnconfirmed(peer)
        }
        // Writing to someone (or answering them) makes them a contact.
        if var updated = contact, updated.status == .requested {
            updated.status = .accepted
            try stored {
                try stores.contacts.saveContact(updated)
                try stores.history.clearRequestFlag(for: peer)
            }
        }
        return HistoryEntry(id: id, peer: peer, direction: .sent, body: .text(""), sentAt: sentAt, receivedAt: sentAt, status: .sent, isRequest: false)
    }

    /// Fetches `peer`'s bundle, verifies it and starts a session; records a first contact or
    /// surfaces an identity change.
    private func startSession(with peer: Username, identity: Ed25519KeyPair, contact: inout Contact?) async throws(ClientError) -> Session {
        let bundle = try await fetchVerifiedBundle(of: peer)
        let verdict = ContactPolicy.identityVerdict(presented: bundle.identityKey, known: contact)
        switch verdict {
        case .firstUse:
            let created = Contact(username: peer, identityKey: bundle.identityKey, status: .accepted)
            try stored { try stores.contacts.saveContact(created) }
            contact = created
        case .unchanged:
            break
        case .changed:
            try markIdentityChanged(peer, contact: contact, presented: bundle.identityKey, verdict: verdict)
            throw .identityUnconfirmed(peer)
        }
        do {
            return try cipher.startSession(with: bundle, peer: peer, localIdentity: identity)
        } catch {
            throw .encryption("\(error)")
        }
    }

    private func fetchVerifiedBundle(of peer: Username) async throws(ClientError) -> VerifiedPrekeyBundle {
        guard case .bundle(let unverified) = try await call(.fetchBundle(username: peer)) else {
            throw .refused(WireError(.internalError, "the server answered a bundle request with something else"))
        }
        do { return try PrekeyBundleVerifier(crypto: crypto).verify(unverified) } catch { throw .invalidBundle(peer) }
    }

    private func refreshIdentity(of peer: Username, identity: Ed25519KeyPair) async throws(ClientError) {
        let bundle = try await fetchVerifiedBundle(of: peer)
        let contact = try stored { try stores.contacts.contact(named: peer) }
        let verdict = ContactPolicy.identityVerdict(presented: bundle.identityKey, known: contact)
        try markIdentityChanged(peer, contact: contact, presented: bundle.identityKey, verdict: verdict)
    }

    func markIdentityChanged(_ peer: Username, contact: Contact?, presented: Ed25519PublicKey, verdict: ContactPolicy.IdentityVerdict) throws(ClientError) {
        let base = contact ?? Contact(username: peer, identityKey: presented, status: .accepted)
        let updated = ContactPolicy.applying(verdict == .unchanged || verdict == .firstUse ? .changed(previous: base.identityKey) : verdict, presented: presented, to: base)
        try stored {
            try stores.contacts.saveContact(updated)
            // The old session belongs to the old identity.
            try stores.sessions.removeSession(with: peer)
        }
        emit(.identityChanged(peer))
    }
}
