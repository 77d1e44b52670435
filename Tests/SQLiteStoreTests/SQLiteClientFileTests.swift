import Conversations
import Envelope
import Foundation
import Prekeys
import Primitives
@testable import SQLiteStore
import StoreContractTests
import Testing

/// What only the client's encrypted file can get wrong: the password, persistence across
/// reopening, what the bytes on disk reveal, tampering behind the adapter's back, hostile files
/// and permissions.
@Suite("SQLite client database files")
struct SQLiteClientFileTests {
    let alice: Username
    let zebediah: Username
    let fixture: ClientFixture

    init() throws {
        alice = try Username("alice")
        zebediah = try Username("zebediah")
        fixture = try ClientFixture(seed: 7)
    }

    /// One of everything the client stores.
    struct Sample {
        let identity: Ed25519KeyPair
        let signed: SignedPrekeyPair
        let oneTime: OneTimePrekeyPair
        let session: Session
        let contact: Contact
        let message: HistoryEntry
        let image: HistoryEntry
        static let secretText = "meet me under the old oak at 23:45, bring the blue folder"
    }

    func sample() throws -> Sample {
        let identity = try fixture.identity()
        let conversation = try fixture.conversation(initiator: alice, responder: zebediah)
        return Sample(
            identity: identity,
            signed: try fixture.signedPrekey(id: 77, signedBy: identity),
            oneTime: try fixture.oneTimePrekey(id: 501),
            session: conversation.initiator,
            contact: Contact(username: zebediah, identityKey: conversation.initiator.peerIdentityKey, status: .accepted, verified: true),
            message: HistoryEntry(
                id: MessageID.random(using: fixture.random), peer: zebediah, direction: .received, body: .text(Sample.secretText),
                sentAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_123), receivedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_456),
                status: .sent, isRequest: false),
            image: HistoryEntry(
                id: MessageID.random(using: fixture.random), peer: zebediah, direction: .sent,
                body: .image(
                    SealedImageReference(blobID: .random(using: fixture.random), fileKey: try SymmetricKey(fixture.random.secret(count: 32))),
                    width: 10, height: 20),
                sentAt: Timestamp(millisecondsSinceEpoch: 1_700_000_001_000), receivedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_001_000),
                status: .delivered, isRequest: false))
    }

    func imageReference(_ sample: Sample) -> SealedImageReference {
        guard case .image(let reference, _, _) = sample.image.body else { fatalError("the sample image is an image") }
        return reference
    }

    func store(_ sample: Sample, in store: SQLiteClientStore) throws {
        try store.keys.setIdentityKeyPair(sample.identity)
        try store.keys.addSignedPrekeyPair(sample.signed)
        try store.keys.addOneTimePrekeyPairs([sample.oneTime])
        try store.sessions.saveRecord(SessionRecord(peer: sample.session.peer, current: sample.session))
        try store.contacts.saveContact(sample.contact)
        #expect(try store.history.append(sample.message))
        #expect(try store.history.append(sample.image))
        try store.settings.setValue(Array("zebediah-setting".utf8), forKey: "own username")
    }

    // MARK: Persistence and the password

    @Test("client schema: 3 seals the images, 4 adds the ML-KEM prekeys, 5 the event log; every sealed table is known to the keyring check")
    func schemaNumbering() throws {
        let steps = SQLiteClientStore.migrations.map { ($0.version, $0.summary) }
        #expect(steps.map(\.0) == Array(1...SQLiteClientStore.latestSchemaVersion))
        #expect(steps.first { $0.0 == 3 }?.1 == "images sealed in the blob store")
        #expect(steps.first { $0.0 == 4 }?.1 == "ML-KEM prekeys (PQXDH)")
        #expect(steps.first { $0.0 == 5 }?.1 == "the durable event log")
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        _ = try ClientDatabase.open(path)
        let sealed = try RawSQLite.query("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%sealed BLOB%'", onDatabaseAt: path)
        let names = Set(sealed.compactMap { row -> String? in if case .text(let name)? = row.first { name } else { nil } })
        #expect(names.subtracting(["keyring"]) == Set(SQLiteClientStore.sealedTables))
    }


    @Test func everythingSurvivesCloseAndReopenWithThePassword() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        let sample = try sample()
        do {
            let opened = try ClientDatabase.open(path)
            try store(sample, in: opened)
            opened.close()
            #expect(throws: StoreError.self) { try opened.history.entries(with: zebediah, limit: 10) }
        }
        let reopened = try ClientDatabase.open(path)
        #expect(try reopened.keys.identityKeyPair() == sample.identity)
        #expect(try reopened.keys.signedPrekeyPairs() == [sample.signed])
        #expect(try reopened.keys.oneTimePrekeyPair(id: sample.oneTime.id) == sample.oneTime)
        #expect(try reopened.sessions.record(with: zebediah)?.current == sample.session)
        #expect(try reopened.contacts.allContacts() == [sample.contact])
        #expect(try reopened.history.entries(with: zebediah, limit: 10) == [sample.message, sample.image])
        #expect(try reopened.settings.value(forKey: "own username") == Array("zebediah-setting".utf8))
        // A re-delivered message is still recognised after the restart.
        #expect(try reopened.history.append(sample.message) == false)
        #expect(try reopened.schemaVersion() == SQLiteClientStore.latestSchemaVersion)
    }

    @Test func aWrongPasswordIsRefusedClearlyAndUnlocksNothing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try store(try sample(), in: try ClientDatabase.open(path))
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let error = #expect(throws: ClientStoreError.self) { try ClientDatabase.open(path, password: "correct horse battery stable") }
        #expect(error == .wrongPassword)
        #expect(error?.description.contains("wrong password") == true)
        #expect(throws: ClientStoreError.wrongPassword) { try ClientDatabase.open(path, password: "") }
        // The failed attempts changed nothing, and the right password still opens it.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try ClientDatabase.open(path).history.entries(with: zebediah, limit: 10).count == 2)
    }

    @Test func changingThePasswordRewrapsTheKeyAndKeepsTheData() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        let sample = try sample()
        do {
            let opened = try ClientDatabase.open(path)
            try store(sample, in: opened)
            #expect(throws: ClientStoreError.wrongPassword) {
                try opened.changePassword(old: ClientDatabase.secret("not it"), new: ClientDatabase.secret("new password"))
            }
            try opened.changePassword(old: ClientDatabase.secret(ClientDatabase.password), new: ClientDatabase.secret("new password"))
            // The open store keeps working: the data key did not change.
            #expect(try opened.contacts.allContacts() == [sample.contact])
            opened.close()
        }
        #expect(throws: ClientStoreError.wrongPassword) { try ClientDatabase.open(path) }
        let reopened = try ClientDatabase.open(path, password: "new password")
        #expect(try reopened.sessions.record(with: zebediah)?.current == sample.session)
    }

    @Test func aDifferentCostRewrapsTheKeyringOnOpen() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try ClientDatabase.open(path).contacts.saveContact(try sample().contact)
        let stronger = Argon2Cost(operations: 2, memoryBytes: 16 << 10)
        _ = try ClientDatabase.open(path, cost: stronger)
        let row = try RawSQLite.query("SELECT kdf_operations, kdf_memory_bytes FROM keyring", onDatabaseAt: path)
        #expect(row == [[.integer(2), .integer(16 << 10)]])
        #expect(try ClientDatabase.open(path, cost: stronger).contacts.contact(named: zebediah) != nil)
    }

    @Test func aHostileKeyringCostIsRefusedBeforeAnyKeyDerivation() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try ClientDatabase.open(path).close()
        // 1 TiB of Argon2id memory: an open that obeyed would exhaust the machine.
        try RawSQLite.execute("UPDATE keyring SET kdf_memory_bytes = 1099511627776", onDatabaseAt: path)
        let error = #expect(throws: ClientStoreError.self) { try ClientDatabase.open(path) }
        guard case .corrupt(let message)? = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(message.contains("cost"))
    }

    @Test func aCallersCostOutsideTheLimitsIsRefused() throws {
        let directory = try TemporaryDirectory()
        let error = #expect(throws: ClientStoreError.self) {
            try ClientDatabase.open(directory.file("x.sqlite"), cost: Argon2Cost(operations: 0, memoryBytes: 8192))
        }
        guard case .keyDerivationFailed? = error else {
            Issue.record("expected keyDerivationFailed, got \(String(describing: error))")
            return
        }
    }

    // MARK: What the file reveals

    @Test func theFileAndItsLogHoldNoPlaintextNamesIdsOrSecrets() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        let sample = try sample()
        let opened = try ClientDatabase.open(path)
        try store(sample, in: opened)
        let needles: [(String, [UInt8])] = [
            ("message text", Array(Sample.secretText.utf8)),
            ("a distinctive part of the text", Array("old oak".utf8)),
            ("contact username", Array(zebediah.value.utf8)),
            ("image blob id", imageReference(sample).blobID.bytes),
            ("image file key", imageReference(sample).fileKey.secret.unsafeExportBytes()),
            ("message id", sample.message.id.bytes),
            ("identity secret seed", sample.identity.secretKey.seed.unsafeExportBytes()),
            ("identity public key", sample.identity.publicKey.bytes),
            ("contact identity key", sample.contact.identityKey.bytes),
            ("one-time prekey secret", sample.oneTime.keyPair.secretKey.secret.unsafeExportBytes()),
            ("signed prekey secret", sample.signed.keyPair.secretKey.secret.unsafeExportBytes()),
            ("settings value", Array("zebediah-setting".utf8)),
            ("password", Array(ClientDatabase.password.utf8)),
            ("sent-at timestamp", bigEndian(sample.message.sentAt.millisecondsSinceEpoch)),
        ]
        // While open, recent writes live in the WAL; after close they are checkpointed into the
        // main file. Check both moments.
        let walPath = path + "-wal"
        #expect(FileManager.default.fileExists(atPath: walPath))
        for file in [path, walPath] {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            for (what, needle) in needles {
                let found = contains(bytes, needle)
                #expect(!found, "\(what) found in \(file)")
            }
        }
        opened.close()
        let closed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(closed.count > 4096)
        for (what, needle) in needles {
            let found = contains(closed, needle)
            #expect(!found, "\(what) found in the closed file")
        }
    }

    @Test func deletedRecordsAreZeroedNotLeftInFreePages() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        let opened = try ClientDatabase.open(path)
        let sample = try sample()
        try opened.keys.addOneTimePrekeyPairs([sample.oneTime])
        let sealed = try #require(try RawSQLite.query("SELECT sealed FROM one_time_prekeys", onDatabaseAt: path).first?.first)
        guard case .blob(let blob) = sealed else {
            Issue.record("no sealed blob")
            return
        }
        try opened.keys.removeOneTimePrekeyPair(id: sample.oneTime.id)
        opened.close()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let remains = contains(bytes, Array(blob.suffix(32)))
        #expect(!remains, "the erased prekey's sealed bytes remain in the file")
    }

    // MARK: Tampering

    @Test func aTamperedBlobIsReportedAsCorrupt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        let opened = try ClientDatabase.open(path)
        try store(try sample(), in: opened)
        for (table, key) in [("history", "seq"), ("contacts", "peer_hash"), ("sessions", "peer_hash"), ("identity", "slot")] {
            let rows = try RawSQLite.query("SELECT \(key), sealed FROM \(table)", onDatabaseAt: path)
            guard let row = rows.first, case .blob(var sealed) = row[1] else {
                Issue.record("no row in \(table)")
                continue
            }
            sealed[sealed.count / 2] ^= 0x01
            let condition: String
            switch row[0] {
            case .integer(let value): condition = "\(key) = \(value)"
            case .blob(let value): condition = "\(key) = \(RawSQLite.literal(value))"
            default: condition = "0"
            }
            try RawSQLite.execute("UPDATE \(table) SET sealed = \(RawSQLite.literal(sealed)) WHERE \(condition)", onDatabaseAt: path)
        }
        expectCorrupt { try opened.history.entries(with: zebediah, limit: 10) }
        expectCorrupt { try opened.contacts.contact(named: zebediah) }
        expectCorrupt { try opened.contacts.allContacts() }
        expectCorrupt { try opened.sessions.record(with: zebediah)?.current }
        expectCorrupt { try opened.keys.identityKeyPair() }
    }

    @Test func aBlobMovedToAnotherRowOrTableIsReportedAsCorrupt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        let opened = try ClientDatabase.open(path)
        let carol = try Username("carol")
        let conversationWithCarol = try fixture.conversation(initiator: alice, responder: carol)
        let sample = try sample()
        try store(sample, in: opened)
        try opened.sessions.saveRecord(SessionRecord(peer: conversationWithCarol.initiator.peer, current: conversationWithCarol.initiator))
        try opened.history.append(HistoryStoreContract.entry(1, peer: carol))

        // Zebediah's session blob copied over Carol's: it names the wrong row.
        try RawSQLite.execute(
            """
            UPDATE sessions SET sealed = (SELECT sealed FROM sessions ORDER BY peer_hash LIMIT 1)
            WHERE peer_hash = (SELECT peer_hash FROM sessions ORDER BY peer_hash DESC LIMIT 1)
            """, onDatabaseAt: path)
        // Which of the two rows was overwritten depends on the keyed hashes' order: exactly one
        // read is refused as corrupt, and the other row still reads back exactly as saved.
        let saved: [(Username, Session)] = [(zebediah, sample.session), (carol, conversationWithCarol.initiator)]
        var corrupt = 0
        var intact = 0
        for (peer, session) in saved {
            do {
                #expect(try opened.sessions.record(with: peer)?.current == session, "\(peer)'s row is not what was saved")
                intact += 1
            } catch StoreError.corrupt {
                corrupt += 1
            } catch {
                Issue.record("\(peer): expected a session or StoreError.corrupt, got \(error)")
            }
        }
        #expect(corrupt == 1 && intact == 1, "exactly the overwritten row fails: \(corrupt) corrupt, \(intact) intact")

        // A history row re-filed under another conversation.
        try RawSQLite.execute(
            "UPDATE history SET peer_hash = (SELECT peer_hash FROM history ORDER BY seq DESC LIMIT 1) WHERE seq = 1", onDatabaseAt: path)
        expectCorrupt { try opened.history.entries(with: carol, limit: 10) }

        // A history blob copied onto another message's row.
        try RawSQLite.execute("UPDATE history SET sealed = (SELECT sealed FROM history WHERE seq = 3) WHERE seq = 2", onDatabaseAt: path)
        expectCorrupt { try opened.history.raiseStatus(of: [sample.image.id], to: .read) }
        expectCorrupt { try opened.history.entries(with: zebediah, limit: 10) }

        // A one-time prekey's row moved into the signed prekeys table (same id hash, other table).
        try opened.keys.addOneTimePrekeyPairs([try fixture.oneTimePrekey(id: 77)])
        try RawSQLite.execute(
            """
            UPDATE signed_prekeys SET sealed = (SELECT o.sealed FROM one_time_prekeys o WHERE o.id_hash = signed_prekeys.id_hash)
            WHERE id_hash IN (SELECT id_hash FROM one_time_prekeys)
            """, onDatabaseAt: path)
        expectCorrupt { try opened.keys.signedPrekeyPairs() }
    }

    @Test func aMissingKeyringBesideRecordsIsRefusedRatherThanReplaced() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try ClientDatabase.open(path).contacts.saveContact(try sample().contact)
        try RawSQLite.execute("DELETE FROM keyring", onDatabaseAt: path)
        let error = #expect(throws: ClientStoreError.self) { try ClientDatabase.open(path) }
        guard case .corrupt(let message)? = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(message.contains("no keyring"))
    }

    // MARK: Hostile files and permissions

    @Test func aFileOfRandomBytesIsRefusedAndLeftAlone() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<16_384).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        try Data(noise).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: ClientStoreError.self) { try ClientDatabase.open(path) }
        guard case .corrupt? = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(error?.description.contains("not a Parley client database") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(noise))
    }

    @Test func theServersDatabaseIsNotAClientDatabase() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try SQLiteServerStore(path: path).close()
        let error = #expect(throws: ClientStoreError.self) { try ClientDatabase.open(path) }
        guard case .corrupt(let message)? = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(message.contains("another application"))
    }

    @Test func theAccountFolderAndFilesAreTheOwnersOnly() throws {
        let directory = try TemporaryDirectory()
        let folder = directory.file("account")
        let crypto = fixture.crypto
        let opened = try SQLiteClientStore.open(
            accountDirectory: folder, password: ClientDatabase.secret("pw"), crypto: crypto, random: fixture.random, cost: .minimum)
        try opened.contacts.saveContact(try sample().contact)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(files.contains(SQLiteClientStore.fileName))
        #expect(try permissions(folder) == 0o700)
        for file in files {
            #expect(try permissions(folder + "/" + file) == 0o600, "\(file)")
        }
    }

    // MARK: Settings, limits and the query plan

    @Test func settingsAreSealedReplacedAndRemoved() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        let settings = try ClientDatabase.open(path).settings
        #expect(try settings.value(forKey: "next one-time prekey id") == nil)
        try settings.setValue([0, 0, 1, 0], forKey: "next one-time prekey id")
        try settings.setValue([0, 0, 2, 0], forKey: "next one-time prekey id")
        try settings.setValue([], forKey: "empty")
        #expect(try settings.value(forKey: "next one-time prekey id") == [0, 0, 2, 0])
        #expect(try settings.value(forKey: "empty") == [])
        try settings.removeValue(forKey: "next one-time prekey id")
        #expect(try settings.value(forKey: "next one-time prekey id") == nil)
        #expect(throws: StoreError.self) {
            try settings.setValue([UInt8](repeating: 0, count: SQLiteClientStore.Limits.maxSettingValueBytes + 1), forKey: "big")
        }
    }

    @Test func overlongTextIsRefusedNotStoredUnreadable() throws {
        let directory = try TemporaryDirectory()
        let history = try ClientDatabase.open(directory.file(SQLiteClientStore.fileName)).history
        let text = String(repeating: "a", count: SQLiteClientStore.Limits.maxTextBytes + 1)
        let error = #expect(throws: StoreError.self) {
            try history.append(HistoryStoreContract.entry(1, peer: zebediah, body: .text(text)))
        }
        guard case .limitReached? = error else {
            Issue.record("expected limitReached, got \(String(describing: error))")
            return
        }
    }

    @Test func recentHistoryIsReadThroughThePeerIndex() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        _ = try ClientDatabase.open(path)
        // The adapter's own statement, not a copy of it (its parameters stay unbound: NULL).
        let plan = try RawSQLite.query("EXPLAIN QUERY PLAN " + SQLiteHistoryStore.recentEntriesStatement, onDatabaseAt: path)
        let details = plan.compactMap { row in row.compactMap { if case .text(let text) = $0 { text } else { nil } }.last }
        #expect(details.contains { $0.contains("USING INDEX history_by_peer") }, "\(details)")
        #expect(!details.contains { $0.contains("TEMP B-TREE") }, "the order must come from the index: \(details)")
    }

    // MARK: Helpers

    private func expectCorrupt(_ body: () throws -> some Any, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try body()
            Issue.record("expected StoreError.corrupt, got a value", sourceLocation: sourceLocation)
        } catch let error as StoreError {
            guard case .corrupt = error else {
                Issue.record("expected corrupt, got \(error)", sourceLocation: sourceLocation)
                return
            }
        } catch {
            Issue.record("expected StoreError.corrupt, got \(error)", sourceLocation: sourceLocation)
        }
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        while let start = haystack[index...].firstIndex(of: first), start + needle.count <= haystack.count {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
            index = start + 1
        }
        return false
    }

    private func bigEndian(_ value: Int64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    private func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}
