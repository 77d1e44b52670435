import Conversations
import Envelope
import Prekeys
import Primitives
import WireProtocol

extension ParleyClient {
    /// Handles the server's pushes until the connection ends: decrypts and stores deliveries,
    /// acknowledges them, and reports what happened on ``events``.
    /// - Parameter delay: waited before each push is handled. Zero except in tests that need a
    ///   race to be certain (two people writing first at the same time): the `parley` binary sets
    ///   it from `PARLEY_TEST_PUSH_DELAY_MS`.
    public func processPushes(delayingEachBy delay: Duration = .zero) async {
        for await push in wire.pushes {
            if delay > .zero { try? await Task.sleep(for: delay) }
            switch push {
            case .delivery(let delivery):
                await receive(delivery)
            case .signedInElsewhere:
                emit(.signedInElsewhere)
            case .prekeysLow:
                try? await maintainPrekeys()
            }
        }
        emit(.disconnected(reason: "the connection to the server closed"))
    }

    /// Decrypts, stores and acknowledges one delivery. A delivery that can never be read (garbage,
    /// a replay, a session we do not have) is acknowledged too: keeping it would only make the
    /// server send it again forever.
    func receive(_ delivery: Delivery) async {
        // Without a session nothing can be decrypted; leave it on the server for the next login.
        guard let (_, identity) = try? requireSession() else { return }
        await process(delivery, identity: identity)
        // Acknowledged only after it is stored (or known to be unreadable), so a crash before
        // the acknowledgement means a re-delivery, which history shows once.
        acknowledge(delivery.id)
        deliveriesHandled += 1
    }

    /// Queues an acknowledgement. While one acknowledge request is in flight, later ids collect,
    /// so a burst of deliveries costs the server a few transactions instead of one each.
    func acknowledge(_ id: UInt64) {
        pendingAcknowledgements.append(id)
        guard !acknowledging else { return }
        acknowledging = true
        Task { await self.sendAcknowledgements() }
    }

    private func sendAcknowledgements() async {
        while !pendingAcknowledgements.isEmpty {
            let batch = Array(pendingAcknowledgements.prefix(WireLimits.maxAcknowledgedIDs))
            pendingAcknowledgements.removeFirst(batch.count)
            // A lost acknowledgement only means a re-delivery, which is shown once.
            _ = try? await wire.request(.acknowledge(ids: batch))
        }
        acknowledging = false
    }

    /// Waits until every queued acknowledgement has been sent (before a command exits).
    public func flushAcknowledgements() async {
        while acknowledging || !pendingAcknowledgements.isEmpty {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private func process(_ delivery: Delivery, identity: Ed25519KeyPair) async {
        let sender = delivery.sender
        let envelope: CiphertextEnvelope
        do { envelope = try CiphertextEnvelope(decoding: delivery.envelope) } catch {
            emit(.undecryptable(from: sender, reason: "malformed envelope"))
            return
        }
        do {
            var contact = try stores.contacts.contact(named: sender)
            if contact?.status == .blocked { return }
            let existing = try stores.sessions.session(with: sender)
            let inbound: SessionCipher.Inbound
            do {
                inbound = try cipher.decrypt(envelope, from: sender, existing: existing, localIdentity: identity, keys: stores.keys)
            } catch DecryptionError.duplicateMessage {
                return
            } catch {
                emit(.undecryptable(from: sender, reason: "\(error)"))
                return
            }
            let verdict = ContactPolicy.identityVerdict(presented: inbound.session.peerIdentityKey, known: contact)
            switch verdict {
            case .firstUse:
                contact = Contact(username: sender, identityKey: inbound.session.peerIdentityKey, status: .requested)
                try stores.contacts.saveContact(contact!)
            case .unchanged:
                break
            case .changed:
                try markIdentityChanged(sender, contact: contact, presented: inbound.session.peerIdentityKey, verdict: verdict)
                contact = try stores.contacts.contact(named: sender)
            }
            try stores.sessions.saveSession(inbound.session)
            if let used = inbound.oneTimePrekeyToErase { try stores.keys.removeOneTimePrekeyPair(id: used) }
            try await handle(inbound.content, from: sender, contact: contact, acceptedAt: delivery.acceptedAt)
        } catch {
            emit(.undecryptable(from: sender, reason: "\(error)"))
        }
    }

    private func handle(_ content: MessageContent, from sender: Username, contact: Contact?, acceptedAt: Timestamp) async throws {
        let isRequest = contact?.status != .accepted
        let receivedAt = now()
        switch content.body {
        case .text(let text):
            let entry = HistoryEntry(id: content.id, peer: sender, direction: .received, body: .text(text), sentAt: content.sentAt, receivedAt: receivedAt, status: .delivered, isRequest: isRequest)
            try await store(entry, acknowledgeTo: isRequest ? nil : sender)
        case .image(let attachment):
            // Never trust the sender's validation: decode and re-encode again here.
            let validated: ValidatedImage
            do { validated = try imageValidator.validate(UntrustedImage(bytes: attachment.png, fileName: attachment.fileName)) } catch {
                emit(.undecryptable(from: sender, reason: "an image that failed validation (\(error)) was dropped"))
                return
            }
            let path = try stores.images.save(validated, peer: sender, messageID: content.id, receivedAt: receivedAt)
            let entry = HistoryEntry(
                id: content.id, peer: sender, direction: .received,
                body: .image(path: path, width: UInt32(validated.width), height: UInt32(validated.height)),
                sentAt: content.sentAt, receivedAt: receivedAt, status: .delivered, isRequest: isRequest)
            try await store(entry, acknowledgeTo: isRequest ? nil : sender)
        case .deliveryReceipt(let ids):
            try stores.history.raiseStatus(of: ids, to: .delivered)
            emit(.receipts(peer: sender, ids: ids.map(\.hex), status: .delivered))
        case .readReceipt(let ids):
            try stores.history.raiseStatus(of: ids, to: .read)
            emit(.receipts(peer: sender, ids: ids.map(\.hex), status: .read))
        case .requestDeclined:
            emit(.requestDeclined(sender))
        }
    }

    /// Appends to history (once per message id) and tells an accepted contact it arrived.
    private func store(_ entry: HistoryEntry, acknowledgeTo peer: Username?) async throws {
        guard try stores.history.append(entry) else { return }
        emit(.message(entry))
        if let peer {
            _ = try? await deliver(.deliveryReceipt([entry.id]), id: MessageID.random(using: random), to: peer)
        }
    }

    /// Tells `peer` their messages were seen (read receipts, from the interactive session).
    public func markRead(_ ids: [MessageID], from peer: Username) async {
        guard !ids.isEmpty, let contact = try? stores.contacts.contact(named: peer), contact.status == .accepted else { return }
        _ = try? await deliver(.readReceipt(Array(ids.prefix(EnvelopeLimits.maxReceiptIDs))), id: MessageID.random(using: random), to: peer)
    }
}
