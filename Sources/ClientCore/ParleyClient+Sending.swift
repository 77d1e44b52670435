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
        let content = MessageContent(id: MessageID.random(using: random), sentAt: now(), body: .text(text))
        let sent = try await deliver(content, to: peer)
        return try recordSent(content, sent: sent, to: peer, body: .text(text))
    }

    /// Validates an image with libpng, re-encodes it without metadata, and sends it.
    @discardableResult
    public func send(image bytes: [UInt8], fileName: String, to peer: Username) async throws(ClientError) -> HistoryEntry {
        let validated: ValidatedImage
        do { validated = try imageValidator.validate(UntrustedImage(bytes: bytes, fileName: fileName)) } catch { throw .image(error) }
        let safeName = String(fileName.split(separator: "/").last ?? "image.png").prefix(EnvelopeLimits.maxFileNameBytes / 4)
        let attachment = MessageContent.ImageAttachment(png: validated.png, fileName: String(safeName), width: UInt32(validated.width), height: UInt32(validated.height))
        let content = MessageContent(id: MessageID.random(using: random), sentAt: now(), body: .image(attachment))
        let sent = try await deliver(content, to: peer)
        // Keep our own copy, sealed as received images are, so history can show it too.
        let sealer = imageSealer
        let sealed = try stored { () throws(StoreError) in try sealer.seal(validated.png, messageID: content.id) }
        do {
            return try recordSent(content, sent: sent, to: peer, body: .image(sealed, width: UInt32(validated.width), height: UInt32(validated.height)))
        } catch {
            try? sealer.remove([sealed])
            throw error
        }
    }

    /// Records a message the server accepted, in one transaction: the history entry, the
    /// sent-message log entry (for a resend if the recipient cannot decrypt it), and the
    /// recipient becoming a contact (writing to someone, or answering them, accepts them).
    private func recordSent(_ content: MessageContent, sent: Sent, to peer: Username, body: HistoryEntry.Body) throws(ClientError) -> HistoryEntry {
        let entry = HistoryEntry(id: content.id, peer: peer, direction: .sent, body: body, sentAt: content.sentAt, receivedAt: content.sentAt, status: .sent, isRequest: false)
        let logged = SentMessage(peer: peer, content: content, envelopeID: sent.envelopeID, acceptedAt: sent.acceptedAt, loggedAt: now())
        let now = now()
        try transaction { store throws(StoreError) in
            if var contact = try store.contacts.contact(named: peer), contact.status == .requested {
                contact.status = .accepted
                try store.contacts.saveContact(contact)
                try store.history.clearRequestFlag(for: peer)
            }
            try store.history.append(entry)
            try store.sentLog.record(logged, now: now)
        }
        return entry
    }

    private enum DeliverAttempt: Sendable {
        case needsSession
        case failed(String)
        case sealed(CiphertextEnvelope, Session)
    }

    /// What the server said about an envelope it accepted.
    struct Sent: Sendable {
        let envelopeID: UInt64
        let acceptedAt: Timestamp
    }

    /// Encrypts `content` for `peer` and hands it to the server. Used for every kind of content;
    /// only ``send(text:to:)`` and ``send(image:fileName:to:)`` record history.
    ///
    /// Sends in the record's current session, or starts one from `peer`'s bundle when there is
    /// none, it is bound to another identity key, or `freshSession` is asked (a retry request,
    /// and a resend after one whose request did not start a new session). The advanced record is
    /// saved before the envelope leaves, so a crash can never reuse a message key.
    /// - Parameter firstContactStatus: the status a peer never seen before gets: `.accepted` when
    ///   we write to them, `.requested` when we only ask a stranger to send something again.
    func deliver(
        _ content: MessageContent, to peer: Username, freshSession: Bool = false, firstContactStatus: Contact.Status = .accepted
    ) async throws(ClientError) -> Sent {
        let (username, identity) = try requireSession()
        var contact = try stored { () throws(StoreError) in try stores.contacts.contact(named: peer) }
        if let contact {
            guard contact.status != .blocked else { throw .contactBlocked(peer) }
            // The hold on a changed identity keeps our words from a key not yet confirmed. A retry
            // request carries none (only the server's id of an envelope we could not read), so it
            // goes out anyway: otherwise that message would be lost while the person decides.
            if case .retryRequest = content.body {} else {
                guard ContactPolicy.maySend(to: contact) else { throw .identityUnconfirmed(peer) }
            }
        }
        // The record is read, the message encrypted and the advanced record saved in one
        // transaction with no suspension in between: a delivery processed while this call waits
        // (for a bundle, say) would otherwise be overwritten by a stale copy, losing the session
        // the peer just started. A bundle is fetched outside, and the decision made again after.
        var prepared: Session?
        var sealed: (envelope: CiphertextEnvelope, session: Session)?
        while sealed == nil {
            let knownKey = contact?.identityKey
            let attempt = try transaction { store throws(StoreError) -> DeliverAttempt in
                var record: SessionRecord
                do throws(StoreError) {
                    record = try store.sessions.record(with: peer) ?? SessionRecord(peer: peer)
                } catch {
                    // A damaged record can never be used again: start over (the peer keeps its
                    // sessions, and a message in a new one is readable).
                    guard case .corrupt = error else { throw error }
                    record = SessionRecord(peer: peer)
                }
                var session: Session
                if !freshSession, let current = record.current, current.peerIdentityKey == knownKey, current.ratchet.canSend {
                    session = current
                } else if let prepared {
                    session = prepared
                } else {
                    return .needsSession
                }
                let envelope: CiphertextEnvelope
                do { envelope = try cipher.encrypt(content, in: &session) } catch { return .failed("\(error)") }
                record.promote(session)
                try store.sessions.saveRecord(record)
                return .sealed(envelope, session)
            }
            switch attempt {
            case .needsSession:
                prepared = try await startSession(
                    with: peer, username: username, identity: identity, contact: &contact, firstContactStatus: firstContactStatus)
            case .failed(let reason):
                throw .encryption(reason)
            case .sealed(let envelope, let session):
                sealed = (envelope, session)
            }
        }
        let (envelope, session) = sealed!
        let response: Response.Body
        do {
            response = try await call(.send(recipient: peer, recipientIdentity: session.peerIdentityKey, envelope: envelope.encoded))
        } catch .refused(let error) where error.code == .identityChanged {
            // The account was registered again: learn the new key, warn, and hold sending.
            try await refreshIdentity(of: peer, identity: identity)
            throw .identityUnconfirmed(peer)
        }
        guard case .accepted(let envelopeID, let acceptedAt) = response else {
            throw .refused(WireError(.internalError, "the server answered a send with something else"))
        }
        return Sent(envelopeID: envelopeID, acceptedAt: acceptedAt)
    }

    /// Fetches `peer`'s bundle, verifies it and starts a session; records a first contact or
    /// surfaces an identity change.
    private func startSession(
        with peer: Username, username: Username, identity: Ed25519KeyPair, contact: inout Contact?, firstContactStatus: Contact.Status
    ) async throws(ClientError) -> Session {
        let bundle = try await fetchVerifiedBundle(of: peer)
        let verdict = ContactPolicy.identityVerdict(presented: bundle.identityKey, known: contact)
        switch verdict {
        case .firstUse:
            let created = Contact(username: peer, identityKey: bundle.identityKey, status: firstContactStatus)
            try stored { () throws(StoreError) in try stores.contacts.saveContact(created) }
            contact = created
        case .unchanged:
            break
        case .changed:
            try markIdentityChanged(peer, contact: contact, presented: bundle.identityKey, verdict: verdict)
            throw .identityUnconfirmed(peer)
        }
        do {
            return try cipher.startSession(with: bundle, peer: peer, localUsername: username, localIdentity: identity)
        } catch {
            throw .encryption("\(error)")
        }
    }

    private func fetchVerifiedBundle(of peer: Username) async throws(ClientError) -> VerifiedPrekeyBundle {
        guard case .bundle(let unverified) = try await call(.fetchBundle(username: peer)) else {
            throw .refused(WireError(.internalError, "the server answered a bundle request with something else"))
        }
        do { return try PrekeyBundleVerifier(crypto: crypto).verify(unverified, owner: peer) } catch {
            // No downgrade: without an ML-KEM prekey no session is set up, not even a classical one.
            if case .missingKEMPrekey = error { throw .noPostQuantumKeys(peer) }
            throw .invalidBundle(peer)
        }
    }

    private func refreshIdentity(of peer: Username, identity: Ed25519KeyPair) async throws(ClientError) {
        let bundle = try await fetchVerifiedBundle(of: peer)
        let contact = try stored { () throws(StoreError) in try stores.contacts.contact(named: peer) }
        let verdict = ContactPolicy.identityVerdict(presented: bundle.identityKey, known: contact)
        try markIdentityChanged(peer, contact: contact, presented: bundle.identityKey, verdict: verdict)
    }

    func markIdentityChanged(_ peer: Username, contact: Contact?, presented: Ed25519PublicKey, verdict: ContactPolicy.IdentityVerdict) throws(ClientError) {
        let base = contact ?? Contact(username: peer, identityKey: presented, status: .accepted)
        let updated = ContactPolicy.applying(verdict == .unchanged || verdict == .firstUse ? .changed(previous: base.identityKey) : verdict, presented: presented, to: base)
        try transaction { store throws(StoreError) in
            try store.contacts.saveContact(updated)
            // The old sessions belong to the old identity.
            try store.sessions.removeRecord(with: peer)
        }
        emit(.identityChanged(peer))
    }
}
