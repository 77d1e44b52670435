import Conversations
import Envelope
import Prekeys
import Primitives
import WireProtocol

/// Decides and applies, inside one client transaction, everything one delivery changes: the
/// session record, the one-time prekey erasure, the contact, the history entry, receipt statuses
/// the sent-message log, and the durable event it causes (``EventLog``). What must happen after the commit (events, receipts, resends) comes
/// back as an ``Outcome``.
///
/// Why one transaction: the ratchet consumes a message key when it decrypts. If the advanced
/// session were saved and the history entry then failed (a full disk), the re-delivered envelope
/// would be a "duplicate" and the message lost; if the history entry were saved and the session
/// not, the session would fall behind. Either all of it is committed, or none and the delivery
/// stays unacknowledged.
struct InboundDelivery: Sendable {
    let cipher: SessionCipher
    let imageValidator: any ImageValidator
    let sealer: ImageSealer
    let username: Username
    let identity: Ed25519KeyPair
    let receivedAt: Timestamp

    /// What the server said, before the transaction, about the identity key of a sender this
    /// client has no contact for yet (a round trip cannot happen inside the transaction).
    enum SenderIdentity: Sendable {
        /// Not asked: the sender is a contact already, or the envelope starts no session.
        case notChecked
        /// The identity key the server holds for the sender, its binding signature verified.
        case published(Ed25519PublicKey)
        /// The server holds a binding for the sender that does not verify: nothing can match.
        case unbound
        /// The server has no such account any more (deleted since it sent this); the session's
        /// associated data still binds the sender's name.
        case unknownAccount
    }

    enum Outcome: Sendable {
        /// Nothing to do: a blocked sender, or a replay of something already decrypted.
        case ignored
        /// No session held can read it and it cannot start one; nothing was written.
        case undecryptable
        /// A first contact whose identity key is not the one the server holds for the sender:
        /// refused, nothing was written.
        case identityMismatch
        /// Decrypted; the changes are in the transaction.
        case stored(Effects)
    }

    struct Effects: Sendable {
        var identityChanged = false
        var result: Result = .none
        /// A received image to save in clear as well, once committed (the `save-images` setting).
        var imageToSave: ValidatedImage?
    }

    enum Result: Sendable {
        case none
        /// A text or image message; `entry` is nil when history already held its id.
        case message(HistoryEntry?, sendReceipt: Bool)
        case imageRefused(String)
        case receipts([MessageID], HistoryEntry.Status)
        case requestDeclined
        /// The sender asks for a message again; when it is still logged, matches what the server
        /// said and was not resent too often, it is now marked ``SentMessage/resendPending``.
        case resendRequested(marked: Bool)
    }

    /// Applies `envelope` from `delivery.sender` to `transaction`.
    /// - Parameters:
    ///   - senderIdentity: for a sender with no contact yet, the identity key the server holds
    ///     for them; a first contact presenting another key is refused.
    ///   - savedImage: set to the sealed image written for this delivery, so the caller can
    ///     remove its blob if the transaction does not commit.
    /// - Throws: only ``StoreError``, from the stores; a decryption failure is an outcome.
    func apply(
        _ envelope: CiphertextEnvelope, delivery: Delivery, senderIdentity: SenderIdentity,
        in transaction: ClientTransaction, savedImage: inout SealedImageReference?
    ) throws(StoreError) -> Outcome {
        let sender = delivery.sender
        var contact = try transaction.contacts.contact(named: sender)
        if contact?.status == .blocked { return .ignored }

        let record: SessionRecord?
        do {
            record = try transaction.sessions.record(with: sender)
        } catch {
            // A record that fails its integrity check can never decrypt anything: treat it as
            // absent, so a prekey message can replace it and anything else is asked for again.
            guard case .corrupt = error else { throw error }
            record = nil
        }
        // Processed before, but the acknowledgement never reached the server (a crash or a lost
        // connection between the commit and the acknowledgement): nothing to do again.
        if record?.hasProcessed(delivery: delivery.id) == true { return .ignored }
        var prekeys: SessionCipher.ResponderPrekeys?
        if let prelude = envelope.prelude, contact == nil {
            // A first message's identity key must be the one the server holds for its sender:
            // otherwise someone is relaying another person's message under this name. Checked
            // before decrypting, so the person is told what happened (a relay would fail to
            // decrypt anyway: the sender's name is in the associated data).
            switch senderIdentity {
            case .published(let held) where held != prelude.identityKey: return .identityMismatch
            case .unbound: return .identityMismatch
            case .published, .notChecked, .unknownAccount: break
            }
        }
        if let prelude = envelope.prelude {
            let oneTime = try prelude.oneTimePrekeyID.flatMap { id throws(StoreError) in try transaction.keys.oneTimePrekeyPair(id: id) }
            let kemPrekey = try prelude.kem.flatMap { kem throws(StoreError) in try transaction.keys.kemPrekeyPair(id: kem.prekeyID) }
            prekeys = SessionCipher.ResponderPrekeys(
                signedPrekeys: try transaction.keys.signedPrekeyPairs(), oneTimePrekey: oneTime, kemPrekey: kemPrekey)
        }
        let inbound: SessionCipher.Inbound
        do {
            inbound = try cipher.decrypt(
                envelope, from: sender, record: record, localUsername: username, localIdentity: identity, prekeys: prekeys)
        } catch {
            if case .duplicateMessage = error { return .ignored }
            return .undecryptable
        }

        var effects = Effects()
        let presented = inbound.session.peerIdentityKey
        let verdict = ContactPolicy.identityVerdict(presented: presented, known: contact)
        switch verdict {
        case .firstUse:
            contact = Contact(username: sender, identityKey: presented, status: .requested)
            try transaction.contacts.saveContact(contact!)
        case .unchanged:
            break
        case .changed:
            let updated = ContactPolicy.applying(verdict, presented: presented, to: contact!)
            try transaction.contacts.saveContact(updated)
            contact = updated
            effects.identityChanged = true
            _ = try transaction.eventLog.append(.identityChanged(sender), at: receivedAt)
        }
        // The record keeps only sessions bound to the presented identity (see SessionRecord.promote).
        var updated = inbound.record
        updated.noteProcessed(delivery: delivery.id)
        try transaction.sessions.saveRecord(updated)
        if let used = inbound.oneTimePrekeyToErase { try transaction.keys.removeOneTimePrekeyPair(id: used) }
        if let used = inbound.kemPrekeyToErase { try transaction.keys.removeKEMPrekeyPair(id: used) }

        let content = inbound.content
        let isRequest = contact?.status != .accepted
        switch content.body {
        case .text(let text):
            let entry = HistoryEntry(
                id: content.id, peer: sender, direction: .received, body: .text(text), sentAt: content.sentAt,
                receivedAt: receivedAt, status: .delivered, isRequest: isRequest)
            let isNew = try transaction.history.append(entry)
            if isNew { _ = try transaction.eventLog.append(.message(entry), at: receivedAt) }
            effects.result = .message(isNew ? entry : nil, sendReceipt: isNew && !isRequest)
        case .image(let attachment):
            // A re-delivery of a stored image: do not write its file again.
            if try transaction.history.contains(content.id) {
                effects.result = .message(nil, sendReceipt: false)
                return .stored(effects)
            }
            // Never trust the sender's validation: decode and re-encode again here.
            let validated: ValidatedImage
            do { validated = try imageValidator.validate(UntrustedImage(bytes: attachment.png, fileName: attachment.fileName)) } catch {
                effects.result = .imageRefused("\(error)")
                return .stored(effects)
            }
            // Sealed under a key of its own before anything touches the disk: no plain copy is
            // written unless the person asked for every received image to be saved.
            let sealed = try sealer.seal(validated.png, messageID: content.id)
            savedImage = sealed
            if try ClientSettings.savesReceivedImages(in: transaction.settings) { effects.imageToSave = validated }
            let entry = HistoryEntry(
                id: content.id, peer: sender, direction: .received,
                body: .image(sealed, width: UInt32(validated.width), height: UInt32(validated.height)),
                sentAt: content.sentAt, receivedAt: receivedAt, status: .delivered, isRequest: isRequest)
            let isNew = try transaction.history.append(entry)
            if isNew { _ = try transaction.eventLog.append(.message(entry), at: receivedAt) }
            effects.result = .message(isNew ? entry : nil, sendReceipt: isNew && !isRequest)
        case .deliveryReceipt(let ids):
            try transaction.history.raiseStatus(of: ids, to: .delivered)
            try transaction.sentLog.remove(messageIDs: ids)
            _ = try transaction.eventLog.append(.receipts(peer: sender, ids: ids, status: .delivered), at: receivedAt)
            effects.result = .receipts(ids, .delivered)
        case .readReceipt(let ids):
            try transaction.history.raiseStatus(of: ids, to: .read)
            try transaction.sentLog.remove(messageIDs: ids)
            _ = try transaction.eventLog.append(.receipts(peer: sender, ids: ids, status: .read), at: receivedAt)
            effects.result = .receipts(ids, .read)
        case .requestDeclined:
            _ = try transaction.eventLog.append(.requestDeclined(sender), at: receivedAt)
            effects.result = .requestDeclined
        case .retryRequest(let envelopeID, let acceptedAt):
            let logged = try transaction.sentLog.message(to: sender, envelopeID: envelopeID)
            if var usable = logged, usable.acceptedAt == acceptedAt, usable.resends < ClientLimits.maxResends, !usable.resendPending {
                usable.resendPending = true
                try transaction.sentLog.record(usable, now: receivedAt)
                effects.result = .resendRequested(marked: true)
            } else {
                effects.result = .resendRequested(marked: false)
            }
        }
        return .stored(effects)
    }
}

