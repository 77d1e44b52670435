import ClientCore
import Conversations
import Envelope
import Prekeys
import Primitives

/// A failing-store double around a device's client stores: every write, whether made directly on
/// a store or inside a unit-of-work transaction, is counted, and the test decides which writes
/// fail (with `StoreError.diskFull`, as a full disk would). Reads always pass.
///
/// Writes inside a transaction go to the wrapped transaction's stores, so a failure there makes
/// the wrapped unit of work roll back exactly as it would on a real disk.
final class FailingClientStores: Sendable {
    private struct State {
        var writes = 0
        /// The write numbers (1-based, counted from ``arm(failing:)``) that fail.
        var failing: Set<Int> = []
        /// When set, every write fails.
        var full = false
        var failures = 0
    }

    private let state = LockedValue(State())

    /// Counts writes from now on, and fails those with the given numbers (1 = the next write).
    func arm(failing writes: Set<Int>) {
        state.withLock { $0 = State(writes: 0, failing: writes, full: false, failures: $0.failures) }
    }

    /// Fails every write until ``heal()`` (a full disk).
    func fill() { state.withLock { $0.full = true } }

    /// Stops failing writes.
    func heal() { state.withLock { $0.full = false; $0.failing = [] } }

    /// Writes counted since the last ``arm(failing:)``.
    var writes: Int { state.withLock { $0.writes } }

    /// How many writes were made to fail so far.
    var failures: Int { state.withLock { $0.failures } }

    /// Called before each write: throws when this one is to fail.
    func write(_ what: String) throws(StoreError) {
        let fail = state.withLock { state -> Bool in
            state.writes += 1
            let fail = state.full || state.failing.contains(state.writes)
            if fail { state.failures += 1 }
            return fail
        }
        if fail { throw .diskFull("injected failure of write \(what)") }
    }

    /// `stores` with every store and the unit of work wrapped.
    func wrap(_ stores: ClientStores) -> ClientStores {
        ClientStores(
            keys: FailingKeys(inner: stores.keys, gate: self), sessions: FailingSessions(inner: stores.sessions, gate: self),
            contacts: FailingContacts(inner: stores.contacts, gate: self), history: FailingHistory(inner: stores.history, gate: self),
            settings: FailingSettings(inner: stores.settings, gate: self), sentLog: FailingSentLog(inner: stores.sentLog, gate: self),
            imageBlobs: FailingImageBlobs(inner: stores.imageBlobs, gate: self), images: FailingImages(inner: stores.images, gate: self),
            eventLog: stores.eventLog, unitOfWork: FailingUnitOfWork(inner: stores.unitOfWork, gate: self))
    }

    func wrap(_ transaction: ClientTransaction) -> ClientTransaction {
        ClientTransaction(
            keys: FailingKeys(inner: transaction.keys, gate: self), sessions: FailingSessions(inner: transaction.sessions, gate: self),
            contacts: FailingContacts(inner: transaction.contacts, gate: self),
            history: FailingHistory(inner: transaction.history, gate: self),
            settings: FailingSettings(inner: transaction.settings, gate: self),
            sentLog: FailingSentLog(inner: transaction.sentLog, gate: self), eventLog: transaction.eventLog)
    }
}

private struct FailingUnitOfWork: ClientUnitOfWork {
    let inner: any ClientUnitOfWork
    let gate: FailingClientStores

    func perform<T: Sendable>(_ body: (ClientTransaction) throws(StoreError) -> T) throws(StoreError) -> T {
        try inner.perform { transaction throws(StoreError) in try body(gate.wrap(transaction)) }
    }
}

private struct FailingKeys: LocalKeyStore {
    let inner: any LocalKeyStore
    let gate: FailingClientStores
    func identityKeyPair() throws(StoreError) -> Ed25519KeyPair? { try inner.identityKeyPair() }
    func setIdentityKeyPair(_ keyPair: Ed25519KeyPair) throws(StoreError) {
        try gate.write("set identity")
        try inner.setIdentityKeyPair(keyPair)
    }
    func signedPrekeyPairs() throws(StoreError) -> [SignedPrekeyPair] { try inner.signedPrekeyPairs() }
    func addSignedPrekeyPair(_ pair: SignedPrekeyPair) throws(StoreError) {
        try gate.write("add signed prekey")
        try inner.addSignedPrekeyPair(pair)
    }
    func removeSignedPrekeyPair(id: UInt32) throws(StoreError) {
        try gate.write("remove signed prekey")
        try inner.removeSignedPrekeyPair(id: id)
    }
    func oneTimePrekeyPair(id: UInt32) throws(StoreError) -> OneTimePrekeyPair? { try inner.oneTimePrekeyPair(id: id) }
    func addOneTimePrekeyPairs(_ pairs: [OneTimePrekeyPair]) throws(StoreError) {
        try gate.write("add one-time prekeys")
        try inner.addOneTimePrekeyPairs(pairs)
    }
    func removeOneTimePrekeyPair(id: UInt32) throws(StoreError) {
        try gate.write("erase one-time prekey")
        try inner.removeOneTimePrekeyPair(id: id)
    }
    func kemPrekeyPairs() throws(StoreError) -> [KEMPrekeyPair] { try inner.kemPrekeyPairs() }
    func kemPrekeyPair(id: UInt32) throws(StoreError) -> KEMPrekeyPair? { try inner.kemPrekeyPair(id: id) }
    func addKEMPrekeyPairs(_ pairs: [KEMPrekeyPair]) throws(StoreError) {
        try gate.write("add ML-KEM prekeys")
        try inner.addKEMPrekeyPairs(pairs)
    }
    func removeKEMPrekeyPair(id: UInt32) throws(StoreError) {
        try gate.write("erase ML-KEM prekey")
        try inner.removeKEMPrekeyPair(id: id)
    }
}

private struct FailingSessions: SessionStore {
    let inner: any SessionStore
    let gate: FailingClientStores
    func record(with peer: Username) throws(StoreError) -> SessionRecord? { try inner.record(with: peer) }
    func saveRecord(_ record: SessionRecord) throws(StoreError) {
        try gate.write("save session record")
        try inner.saveRecord(record)
    }
    func removeRecord(with peer: Username) throws(StoreError) {
        try gate.write("remove session record")
        try inner.removeRecord(with: peer)
    }
}

private struct FailingContacts: ContactStore {
    let inner: any ContactStore
    let gate: FailingClientStores
    func contact(named username: Username) throws(StoreError) -> Contact? { try inner.contact(named: username) }
    func saveContact(_ contact: Contact) throws(StoreError) {
        try gate.write("save contact")
        try inner.saveContact(contact)
    }
    func allContacts() throws(StoreError) -> [Contact] { try inner.allContacts() }
    func removeContact(named username: Username) throws(StoreError) {
        try gate.write("remove contact")
        try inner.removeContact(named: username)
    }
}

private struct FailingHistory: HistoryStore {
    let inner: any HistoryStore
    let gate: FailingClientStores
    func append(_ entry: HistoryEntry) throws(StoreError) -> Bool {
        try gate.write("append history")
        return try inner.append(entry)
    }
    func contains(_ id: MessageID) throws(StoreError) -> Bool { try inner.contains(id) }
    func entries(with peer: Username, limit: Int) throws(StoreError) -> [HistoryEntry] { try inner.entries(with: peer, limit: limit) }
    func raiseStatus(of ids: [MessageID], to status: HistoryEntry.Status) throws(StoreError) {
        try gate.write("raise status")
        try inner.raiseStatus(of: ids, to: status)
    }
    func clearRequestFlag(for peer: Username) throws(StoreError) {
        try gate.write("clear request flag")
        try inner.clearRequestFlag(for: peer)
    }
    func removeConversation(with peer: Username) throws(StoreError) -> [SealedImageReference] {
        try gate.write("remove conversation")
        return try inner.removeConversation(with: peer)
    }
}

private struct FailingSettings: ClientSettingsStore {
    let inner: any ClientSettingsStore
    let gate: FailingClientStores
    func value(forKey key: String) throws(StoreError) -> [UInt8]? { try inner.value(forKey: key) }
    func setValue(_ value: [UInt8], forKey key: String) throws(StoreError) {
        try gate.write("set setting")
        try inner.setValue(value, forKey: key)
    }
}

private struct FailingSentLog: SentMessageLog {
    let inner: any SentMessageLog
    let gate: FailingClientStores
    func record(_ message: SentMessage, now: Timestamp) throws(StoreError) {
        try gate.write("log sent message")
        try inner.record(message, now: now)
    }
    func message(to peer: Username, envelopeID: UInt64) throws(StoreError) -> SentMessage? { try inner.message(to: peer, envelopeID: envelopeID) }
    func remove(messageIDs: [MessageID]) throws(StoreError) {
        try gate.write("forget sent messages")
        try inner.remove(messageIDs: messageIDs)
    }
    func pendingResends() throws(StoreError) -> [SentMessage] { try inner.pendingResends() }
    func count() throws(StoreError) -> Int { try inner.count() }
}

private struct FailingImages: ImageLibrary {
    let inner: any ImageLibrary
    let gate: FailingClientStores
    func save(_ image: ValidatedImage, peer: Username, messageID: MessageID, receivedAt: Timestamp) throws(StoreError) -> String {
        try gate.write("save image file")
        return try inner.save(image, peer: peer, messageID: messageID, receivedAt: receivedAt)
    }
    func images(from peer: Username) throws(StoreError) -> [String] { try inner.images(from: peer) }
    func remove(_ paths: [String]) throws(StoreError) { try inner.remove(paths) }
    func legacyImage(at path: String) throws(StoreError) -> (path: String, png: [UInt8]) { try inner.legacyImage(at: path) }
}

private struct FailingImageBlobs: ImageBlobStore {
    let inner: any ImageBlobStore
    let gate: FailingClientStores
    func write(_ bytes: [UInt8], as id: ImageBlobID) throws(StoreError) {
        try gate.write("write image blob")
        try inner.write(bytes, as: id)
    }
    func read(_ id: ImageBlobID) throws(StoreError) -> [UInt8] { try inner.read(id) }
    func remove(_ ids: [ImageBlobID]) throws(StoreError) { try inner.remove(ids) }
}
