import ClientCore
import Conversations
import Envelope
import Prekeys
import Primitives
import Testing

/// Makes a fresh, empty set of client stores and the ``ClientUnitOfWork`` over them.
public typealias UnitOfWorkFactory = @Sendable () throws -> any ClientUnitOfWork

/// The behaviour every ``ClientUnitOfWork`` must have: a transaction sees its own writes, a
/// committed one is visible afterwards, and a failure anywhere in one (in any store, at any
/// point) leaves nothing it did applied.
public enum UnitOfWorkContract {
    public static let checks: [ContractCheck<UnitOfWorkFactory>] = [
        ContractCheck("a committed transaction's writes to every store are visible afterwards") { make in
            let work = try make()
            let sample = try Sample(seed: 31)
            try work.perform { transaction throws(StoreError) in try sample.write(to: transaction) }
            try work.perform { transaction throws(StoreError) in try sample.expectPresent(in: transaction) }
        },
        ContractCheck("a transaction reads its own writes before it commits") { make in
            let work = try make()
            let sample = try Sample(seed: 32)
            try work.perform { transaction throws(StoreError) in
                try sample.write(to: transaction)
                try sample.expectPresent(in: transaction)
            }
        },
        ContractCheck("a failure after the writes to every store leaves none of them applied") { make in
            let work = try make()
            let sample = try Sample(seed: 33)
            #expect(throws: StoreError.diskFull("injected")) {
                try work.perform { transaction throws(StoreError) in
                    try sample.write(to: transaction)
                    throw StoreError.diskFull("injected")
                }
            }
            try work.perform { transaction throws(StoreError) in try sample.expectAbsent(in: transaction) }
        },
        ContractCheck("a failure after any single write undoes it, and earlier state is kept") { make in
            let work = try make()
            let before = try Sample(seed: 34)
            try work.perform { transaction throws(StoreError) in try before.write(to: transaction) }
            let after = try Sample(seed: 35)
            for step in 0..<Sample.writeCount {
                #expect(throws: StoreError.self) {
                    try work.perform { transaction throws(StoreError) in
                        try after.write(to: transaction, failingAfter: step)
                    }
                }
                try work.perform { transaction throws(StoreError) in
                    try after.expectAbsent(in: transaction)
                    try before.expectPresent(in: transaction)
                }
            }
        },
        ContractCheck("an event appended inside a failed transaction is undone, and the next follows the last committed one") { make in
            let work = try make()
            let bob = try Username("bob")
            let kept = try work.perform { transaction throws(StoreError) in try transaction.eventLog.append(.requestDeclined(bob), at: Timestamp(millisecondsSinceEpoch: 1)) }
            #expect(throws: StoreError.diskFull("injected")) {
                try work.perform { transaction throws(StoreError) in
                    _ = try transaction.eventLog.append(.identityChanged(bob), at: Timestamp(millisecondsSinceEpoch: 2))
                    throw StoreError.diskFull("injected")
                }
            }
            try work.perform { transaction throws(StoreError) in
                #expect(try transaction.eventLog.events(after: 0, limit: 10).map(\.cursor) == [kept])
                #expect(try transaction.eventLog.latestCursor() == kept)
            }
            let next = try work.perform { transaction throws(StoreError) in try transaction.eventLog.append(.identityChanged(bob), at: Timestamp(millisecondsSinceEpoch: 3)) }
            #expect(next > kept)
        },
        ContractCheck("an update and a deletion inside a failed transaction are undone too") { make in
            let work = try make()
            let sample = try Sample(seed: 36)
            try work.perform { transaction throws(StoreError) in try sample.write(to: transaction) }
            #expect(throws: StoreError.self) {
                try work.perform { transaction throws(StoreError) in
                    var contact = sample.contact
                    contact.status = .blocked
                    try transaction.contacts.saveContact(contact)
                    try transaction.history.raiseStatus(of: [sample.entry.id], to: .read)
                    try transaction.sessions.removeRecord(with: sample.peer)
                    try transaction.keys.removeOneTimePrekeyPair(id: sample.oneTime.id)
                    try transaction.sentLog.remove(messageIDs: [sample.sent.content.id])
                    throw StoreError.unavailable("injected")
                }
            }
            try work.perform { transaction throws(StoreError) in try sample.expectPresent(in: transaction) }
        },
    ]

    /// One value for every store, and the writes that put them there.
    struct Sample: Sendable {
        static let writeCount = 7
        let peer: Username
        let identity: Ed25519KeyPair
        let oneTime: OneTimePrekeyPair
        let record: SessionRecord
        let contact: Contact
        let entry: HistoryEntry
        let settingKey: String
        let sent: SentMessage

        init(seed: UInt64) throws {
            let fixture = try ClientFixture(seed: seed)
            peer = try user("peer\(seed)")
            identity = try fixture.identity()
            oneTime = try fixture.oneTimePrekey(id: UInt32(seed))
            let conversation = try fixture.conversation(initiator: user("owner"), responder: peer)
            record = SessionRecord(peer: peer, current: conversation.initiator)
            contact = Contact(username: peer, identityKey: try identityKey(UInt8(seed)), status: .accepted)
            entry = try HistoryStoreContract.entry(UInt8(seed), peer: peer, direction: .sent, status: .sent)
            settingKey = "setting-\(seed)"
            sent = SentMessage(
                peer: peer, content: MessageContent(id: entry.id, sentAt: entry.sentAt, body: .text("logged \(seed)")),
                envelopeID: seed, acceptedAt: entry.sentAt, loggedAt: entry.sentAt)
        }

        /// The writes, in order; with `failingAfter`, throws after that many of them.
        func write(to transaction: ClientTransaction, failingAfter limit: Int = .max) throws(StoreError) {
            var done = 0
            func step(_ write: () throws(StoreError) -> Void) throws(StoreError) {
                try write()
                done += 1
                if done > limit { throw StoreError.diskFull("injected after write \(done)") }
            }
            try step { () throws(StoreError) in try transaction.keys.setIdentityKeyPair(identity) }
            try step { () throws(StoreError) in try transaction.keys.addOneTimePrekeyPairs([oneTime]) }
            try step { () throws(StoreError) in try transaction.sessions.saveRecord(record) }
            try step { () throws(StoreError) in try transaction.contacts.saveContact(contact) }
            try step { () throws(StoreError) in try transaction.history.append(entry) }
            try step { () throws(StoreError) in try transaction.settings.setValue([UInt8(truncatingIfNeeded: done)], forKey: settingKey) }
            try step { () throws(StoreError) in try transaction.sentLog.record(sent, now: entry.sentAt) }
        }

        func expectPresent(in transaction: ClientTransaction) throws(StoreError) {
            #expect(try transaction.keys.identityKeyPair() == identity)
            #expect(try transaction.keys.oneTimePrekeyPair(id: oneTime.id) == oneTime)
            #expect(try transaction.sessions.record(with: peer) == record)
            #expect(try transaction.contacts.contact(named: peer) == contact)
            #expect(try transaction.history.entries(with: peer, limit: 10) == [entry])
            #expect(try transaction.settings.value(forKey: settingKey) != nil)
            #expect(try transaction.sentLog.message(to: peer, envelopeID: sent.envelopeID) == sent)
        }

        func expectAbsent(in transaction: ClientTransaction) throws(StoreError) {
            #expect(try transaction.keys.identityKeyPair() != identity)
            #expect(try transaction.keys.oneTimePrekeyPair(id: oneTime.id) == nil)
            #expect(try transaction.sessions.record(with: peer) == nil)
            #expect(try transaction.contacts.contact(named: peer) == nil)
            #expect(try transaction.history.entries(with: peer, limit: 10) == [])
            #expect(try transaction.history.contains(entry.id) == false)
            #expect(try transaction.settings.value(forKey: settingKey) == nil)
            #expect(try transaction.sentLog.message(to: peer, envelopeID: sent.envelopeID) == nil)
        }
    }
}
