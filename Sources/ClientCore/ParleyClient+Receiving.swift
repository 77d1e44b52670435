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
                // A new push is the natural moment to try again what could not be saved or sent.
                await retryDeferredDeliveries()
                await receive(delivery)
                await resendPendingMessagesIfAny()
            case .signedInElsewhere:
                emit(.signedInElsewhere)
            case .prekeysLow:
                try? await maintainPrekeys()
            }
        }
        let reason = "the connection to the server closed"
        _ = try? transaction { store throws(StoreError) in try store.eventLog.append(.connection(connected: false, reason: reason), at: now()) }
        emit(.disconnected(reason: reason))
        pushesEnded = true
        resumeDeliveryWaiters()
    }

    /// Tries again, oldest first, the deliveries that could not be saved. Those that fail again
    /// stay deferred (and unacknowledged).
    public func retryDeferredDeliveries() async {
        guard !deferredDeliveries.isEmpty else { return }
        let waiting = deferredDeliveries
        deferredDeliveries = []
        for delivery in waiting { await receive(delivery, isRetry: true) }
    }

    /// How many deliveries wait for another attempt after a storage error.
    public var deferredDeliveryCount: Int { deferredDeliveries.count }

    /// Tries deferred deliveries and pending resends again a little later, while the connection
    /// is open: what failed for a moment (the server's bundle-fetch limit, a full disk just freed)
    /// does not have to wait for the next push. One attempt scheduled at a time.
    func scheduleRetry(after delay: Duration = ClientLimits.retryDelay) {
        guard !retryScheduled, !wire.isClosed else { return }
        retryScheduled = true
        Task {
            try? await Task.sleep(for: delay)
            await self.runScheduledRetry()
        }
    }

    private func runScheduledRetry() async {
        retryScheduled = false
        guard !wire.isClosed, username != nil else { return }
        await retryDeferredDeliveries()
        await resendPendingMessagesIfAny()
    }

    /// Decrypts, stores and acknowledges one delivery.
    ///
    /// Everything the delivery changes is applied in one transaction, and the delivery is
    /// acknowledged only after that transaction committed. A storage error leaves it
    /// unacknowledged (deferred here, and on the server until the next login); only a delivery
    /// that can never be read is acknowledged without being stored, after asking its sender to
    /// send it again.
    func receive(_ delivery: Delivery, isRetry: Bool = false) async {
        // Without a session nothing can be decrypted; leave it on the server for the next login.
        guard let (username, identity) = try? requireSession() else { return }
        let disposition = await process(delivery, username: username, identity: identity)
        if !isRetry {
            deliveriesHandled += 1
            resumeDeliveryWaiters()
        }
        switch disposition {
        case .done:
            acknowledge(delivery.id)
        case .retryLater:
            if deferredDeliveries.count < ClientLimits.maxDeferredDeliveries, !deferredDeliveries.contains(where: { $0.id == delivery.id }) {
                deferredDeliveries.append(delivery)
            }
            scheduleRetry()
        case .storageFailed(let error):
            // Told once per delivery, not at every retry.
            if !isRetry { emit(.storageFailed(from: delivery.sender, error: error)) }
            if deferredDeliveries.count < ClientLimits.maxDeferredDeliveries, !deferredDeliveries.contains(where: { $0.id == delivery.id }) {
                deferredDeliveries.append(delivery)
            }
            scheduleRetry()
        }
    }

    /// Queues an acknowledgement. While one acknowledge request is in flight, later ids collect,
    /// so a burst of deliveries costs the server a few transactions instead of one each.
    func acknowledge(_ id: UInt64) {
        if acknowledgements.append(id) { Task { await self.sendAcknowledgements() } }
    }

    private func sendAcknowledgements() async {
        while true {
            let batch = acknowledgements.take(upTo: WireLimits.maxAcknowledgedIDs)
            guard !batch.isEmpty else { return }
            // A lost acknowledgement only means a re-delivery, which is shown once.
            _ = try? await wire.request(.acknowledge(ids: batch))
        }
    }

    /// Waits until every queued acknowledgement has been sent (before a command exits).
    public func flushAcknowledgements() async {
        while acknowledgements.isDraining || !acknowledgements.isEmpty {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private enum Disposition {
        /// Stored, or known to be unreadable: acknowledge it.
        case done
        /// Nothing was stored: keep it for another attempt.
        case storageFailed(StoreError)
        /// Nothing was stored and nothing failed here (the server could not be asked something
        /// first): keep it for another attempt, without a warning.
        case retryLater
    }

    private func process(_ delivery: Delivery, username: Username, identity: Ed25519KeyPair) async -> Disposition {
        let envelope: CiphertextEnvelope
        do { envelope = try CiphertextEnvelope(decoding: delivery.envelope) } catch {
            return await recoverUndecryptable(delivery)
        }
        let senderIdentity: InboundDelivery.SenderIdentity
        switch await checkFirstContact(envelope, from: delivery.sender) {
        case .success(let checked): senderIdentity = checked
        case .failure(.storage(let error)): return .storageFailed(error)
        case .failure: return .retryLater
        }
        let inbound = InboundDelivery(
            cipher: cipher, imageValidator: imageValidator, sealer: imageSealer, username: username, identity: identity, receivedAt: now())
        // Written before the commit (files are not part of the transaction) and removed if it fails.
        var savedImage: SealedImageReference?
        let outcome: InboundDelivery.Outcome
        do {
            outcome = try stores.unitOfWork.perform { transaction throws(StoreError) in
                try inbound.apply(envelope, delivery: delivery, senderIdentity: senderIdentity, in: transaction, savedImage: &savedImage)
            }
        } catch {
            if let savedImage { try? imageSealer.remove([savedImage]) }
            return .storageFailed(error)
        }
        if case .undecryptable = outcome { return await recoverUndecryptable(delivery) }
        if case .identityMismatch = outcome {
            // Never readable as coming from this sender, so acknowledged; no retry request (it
            // would go to whoever the name belongs to, not to the key's holder).
            emit(.identityMismatch(from: delivery.sender))
            return .done
        }
        await applyEffects(of: outcome, delivery: delivery, savedImage: savedImage)
        return .done
    }

    /// Before a prekey message from someone who is not a contact yet is decrypted (outside the
    /// transaction, since it is a round trip): the identity key the server holds for the sender,
    /// asked with the non-consuming `identity` request so no one-time prekey is spent.
    /// - Returns: ``InboundDelivery/SenderIdentity/notChecked`` when no check is needed; fails with
    ///   a storage error (reading contacts) or a connection error (the server could not answer),
    ///   both of which leave the delivery for another attempt.
    private func checkFirstContact(_ envelope: CiphertextEnvelope, from sender: Username) async -> Result<InboundDelivery.SenderIdentity, ClientError> {
        guard envelope.prelude != nil else { return .success(.notChecked) }
        let contact: Contact?
        do { contact = try stores.contacts.contact(named: sender) } catch { return .failure(.storage(error)) }
        guard contact == nil else { return .success(.notChecked) }
        do {
            guard case .identity(let published) = try await call(.identity(username: sender)) else {
                return .failure(.refused(WireError(.internalError, "the server answered an identity request with something else")))
            }
            if let signature = published.signature,
                !IdentityBinding.isValid(signature, identityKey: published.identityKey, username: sender, crypto: crypto) {
                return .success(.unbound)
            }
            return .success(.published(published.identityKey))
        } catch .refused(let error) where error.code == .unknownUser {
            return .success(.unknownAccount)
        } catch {
            return .failure(error)
        }
    }

    /// What happens once a delivery's transaction committed: events, receipts, resends.
    private func applyEffects(of outcome: InboundDelivery.Outcome, delivery: Delivery, savedImage: SealedImageReference?) async {
        let sender = delivery.sender
        switch outcome {
        case .ignored, .undecryptable, .identityMismatch:
            break
        case .stored(let effects):
            if effects.identityChanged { emit(.identityChanged(sender)) }
            switch effects.result {
            case .none:
                break
            case .message(let entry, let sendReceipt):
                guard let entry else {
                    // Already in history (a re-delivery): the blob sealed for it again is not needed.
                    if let savedImage { try? imageSealer.remove([savedImage]) }
                    return
                }
                if let image = effects.imageToSave {
                    // The person asked for every received image in clear too. The sealed copy is
                    // committed already, so a failure here loses nothing: it is reported, and the
                    // image can be saved later with /save.
                    do {
                        _ = try stores.images.save(image, peer: sender, messageID: entry.id, receivedAt: entry.receivedAt)
                    } catch .alreadyExists {
                    } catch {
                        emit(.imageSaveFailed(from: sender, error: error))
                    }
                }
                emit(.message(entry))
                if sendReceipt {
                    _ = try? await deliver(MessageContent(id: MessageID.random(using: random), sentAt: now(), body: .deliveryReceipt([entry.id])), to: sender)
                }
            case .imageRefused(let reason):
                emit(.imageRefused(from: sender, reason: reason))
            case .receipts(let ids, let status):
                emit(.receipts(peer: sender, ids: ids.map(\.hex), status: status))
            case .requestDeclined:
                emit(.requestDeclined(sender))
            case .resendRequested(let marked):
                if marked {
                    resendsMayBePending = true
                    await resendPendingMessages()
                }
            }
        }
    }

    /// A delivery that can never be read: ask the sender, in a new session, to send it again, and
    /// tell the person (a dim notice, never a raw error name). It is acknowledged once the retry
    /// request is on the server, or when none can be sent (the sender is blocked, or their new
    /// identity is not confirmed yet); while the request cannot be sent (offline, a full disk) it
    /// stays unacknowledged and is tried again like any delivery that could not be saved.
    private func recoverUndecryptable(_ delivery: Delivery) async -> Disposition {
        if retryRequestedDeliveries.contains(delivery.id) { return .done }
        let request = MessageContent(
            id: MessageID.random(using: random), sentAt: now(),
            body: .retryRequest(envelopeID: delivery.id, acceptedAt: delivery.acceptedAt))
        do {
            _ = try await deliver(request, to: delivery.sender, freshSession: true, firstContactStatus: .requested)
        } catch .storage(let error) {
            return .storageFailed(error)
        } catch .connection(let error) {
            return .storageFailed(.unavailable("the retry request could not be sent: \(error)"))
        } catch .refused(let error) where [.throttled, .busy, .unavailable, .internalError].contains(error.code) {
            // The server will take it later (its bundle-fetch limit, a flood being shed): keep
            // the delivery until the request is out, as for a storage failure.
            return .storageFailed(.unavailable("the retry request could not be sent yet: \(error.code)"))
        } catch {
            emit(.decryptionFailed(from: delivery.sender, retryRequested: false))
            return .done
        }
        if retryRequestedDeliveries.count >= ClientLimits.maxDeferredDeliveries { retryRequestedDeliveries.removeAll() }
        retryRequestedDeliveries.insert(delivery.id)
        emit(.decryptionFailed(from: delivery.sender, retryRequested: true))
        return .done
    }

    /// Sends again, each in a fresh session started from the recipient's bundle, the logged
    /// messages whose recipients asked for them (same id, clock and body, so each is shown once).
    /// One that cannot be sent now stays marked and is tried on the next push or login.
    /// Reads the log every time it is called; the push path calls it only while this client
    /// knows of (or has not yet looked for) a marked entry, so a push costs no query.
    public func resendPendingMessages() async {
        guard !resending else { return }
        resending = true
        defer { resending = false }
        // Cleared before reading: a mark made while this runs sets it again.
        resendsMayBePending = false
        guard let pending = try? stores.sentLog.pendingResends() else {
            resendsMayBePending = true
            return
        }
        for logged in pending {
            guard let sent = try? await deliver(logged.content, to: logged.peer, freshSession: true) else {
                resendsMayBePending = true
                scheduleRetry()
                continue
            }
            var updated = logged
            updated.envelopeID = sent.envelopeID
            updated.acceptedAt = sent.acceptedAt
            updated.resends += 1
            updated.resendPending = false
            let now = now()
            // If this write fails the message stays marked and is sent once more later, which the
            // recipient shows once (same id): a duplicate envelope, never a lost message.
            do { try stores.sentLog.record(updated, now: now) } catch { resendsMayBePending = true }
        }
    }

    /// ``resendPendingMessages()`` when a marked entry may exist (after login, after a retry
    /// request marked one, after a resend failed); otherwise nothing, not even a query.
    func resendPendingMessagesIfAny() async {
        guard resendsMayBePending else { return }
        await resendPendingMessages()
    }

    /// Tells `peer` their messages were seen (read receipts, from the interactive session).
    public func markRead(_ ids: [MessageID], from peer: Username) async {
        guard !ids.isEmpty, let contact = try? stores.contacts.contact(named: peer), contact.status == .accepted else { return }
        let receipt = MessageContent(id: MessageID.random(using: random), sentAt: now(), body: .readReceipt(Array(ids.prefix(EnvelopeLimits.maxReceiptIDs))))
        _ = try? await deliver(receipt, to: peer)
    }
}
