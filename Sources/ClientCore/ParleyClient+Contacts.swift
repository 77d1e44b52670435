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

    /// The saved images exchanged with `peer`, by path.
    public func images(with peer: Username) throws(ClientError) -> [String] {
        try stored { () throws(StoreError) in try stores.images.images(from: peer) }
    }

    /// Erases the conversation with `peer` on this device, and its saved images when asked.
    /// - Returns: how many images were deleted.
    @discardableResult
    public func deleteHistory(with peer: Username, includingImages: Bool) throws(ClientError) -> Int {
        let paths = try stored { () throws(StoreError) in try stores.history.removeConversation(with: peer) }
        guard includingImages else { return 0 }
        let all = Array(Set(paths + (try stored { () throws(StoreError) in try stores.images.images(from: peer) })))
        try stored { () throws(StoreError) in try stores.images.remove(all) }
        return all.count
    }
}
