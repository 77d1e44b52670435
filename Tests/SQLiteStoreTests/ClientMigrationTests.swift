import MLKEMCrypto
import ClientCore
import Conversations
import Envelope
import Foundation
import Primitives
import SQLiteStore
import SodiumCrypto
import Testing

/// Databases written by the previous client version (schema 1, one bare session per peer; made
/// by the real `parley` binary, see `Fixtures/client-v1/README.md`) open with this build, are
/// migrated, and keep working.
@Suite("Client database migration from schema 1")
struct ClientMigrationTests {
    static let alicePassword = "alice-fixture-password"
    static let bobPassword = "bob-fixture-password"

    /// Copies a committed fixture into `directory` (the test never writes the committed file).
    static func copyFixture(_ name: String, into directory: borrowing TemporaryDirectory, as copy: String? = nil) throws -> String {
        let source = try #require(Bundle.module.url(forResource: "Fixtures/client-v1/\(name)", withExtension: "sqlite"))
        let target = directory.file("\(copy ?? name).sqlite")
        try FileManager.default.copyItem(atPath: source.path, toPath: target)
        return target
    }

    @Test("a schema-1 file opens at the latest schema: history intact, each session rewritten as a record, the queue emptied")
    func migratesOnOpen() throws {
        let directory = try TemporaryDirectory()
        let path = try Self.copyFixture("alice", into: directory)
        #expect(try RawSQLite.query("PRAGMA user_version", onDatabaseAt: path) == [[.integer(1)]])
        let sealedBefore = try RawSQLite.query("SELECT sealed FROM sessions", onDatabaseAt: path)
        let (alice, bob) = (try Username("alice"), try Username("bob"))

        let store = try ClientDatabase.open(path, password: Self.alicePassword, cost: .interactive)
        #expect(try store.schemaVersion() == SQLiteClientStore.latestSchemaVersion)
        #expect(SQLiteClientStore.latestSchemaVersion >= 3)
        let texts = try store.history.entries(with: bob, limit: 10).compactMap { entry -> String? in
            if case .text(let text) = entry.body { return text }
            return nil
        }
        #expect(texts == ["hello bob, from the v1 client", "hello alice, v1 reply", "second from alice"])
        let record = try #require(try store.sessions.record(with: bob))
        #expect(record.current != nil)
        // Made by the previous build: its AD is the two identity keys alone, and it keeps it (the
        // usernames go only into sessions started from now on).
        #expect(record.current?.ratchet.associatedData.count == 64)
        #expect(record.previous.isEmpty)
        #expect(try store.contacts.contact(named: bob)?.status == .accepted)
        #expect(try store.identityIsPresent())
        #expect(try store.sentLog.count() == 0)
        store.close()
        _ = alice

        // The data migration ran and was dequeued in the same transaction; the row now holds a
        // record (its sealed plaintext starts with the record version, which only opening shows).
        #expect(try RawSQLite.query("SELECT count(*) FROM pending_data_migrations", onDatabaseAt: path) == [[.integer(0)]])
        let sealedAfter = try RawSQLite.query("SELECT sealed FROM sessions", onDatabaseAt: path)
        #expect(sealedAfter.count == 1)
        #expect(sealedAfter != sealedBefore, "the schema-1 session was not rewritten")
        // Opening again changes nothing and still reads it.
        let reopened = try ClientDatabase.open(path, password: Self.alicePassword, cost: .interactive)
        #expect(try reopened.sessions.record(with: bob) == record)
        reopened.close()
    }

    @Test("after migration the two v1 sessions still carry messages in both directions")
    func migratedSessionsKeepWorking() throws {
        let directory = try TemporaryDirectory()
        let alicePath = try Self.copyFixture("alice", into: directory)
        let bobPath = try Self.copyFixture("bob", into: directory)
        let aliceStore = try ClientDatabase.open(alicePath, password: Self.alicePassword, cost: .interactive)
        let bobStore = try ClientDatabase.open(bobPath, password: Self.bobPassword, cost: .interactive)
        defer {
            aliceStore.close()
            bobStore.close()
        }
        let (alice, bob) = (try Username("alice"), try Username("bob"))
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let cipher = SessionCipher(crypto: crypto, kem: SwiftCryptoMLKEM(), random: random)
        let aliceIdentity = try #require(try aliceStore.keys.identityKeyPair())
        let bobIdentity = try #require(try bobStore.keys.identityKeyPair())

        func send(_ text: String, from store: SQLiteClientStore, to peer: Username) throws -> CiphertextEnvelope {
            var record = try #require(try store.sessions.record(with: peer))
            var session = try #require(record.current)
            let envelope = try cipher.encrypt(
                MessageContent(id: MessageID.random(using: random), sentAt: Timestamp(millisecondsSinceEpoch: 1), body: .text(text)), in: &session)
            record.promote(session)
            try store.sessions.saveRecord(record)
            return envelope
        }
        func receive(_ envelope: CiphertextEnvelope, at store: SQLiteClientStore, from sender: Username, identity: Ed25519KeyPair) throws -> MessageContent.Body {
            // The sessions were made by the previous build with AD = IK_A || IK_B: they keep that
            // AD inside their ratchet state, so the usernames now in a new session's AD change
            // nothing for them (the recipient's name is not used for an existing session).
            let recipient = sender == alice ? bob : alice
            let inbound = try cipher.decrypt(
                envelope, from: sender, record: try store.sessions.record(with: sender), localUsername: recipient,
                localIdentity: identity, prekeys: nil)
            try store.sessions.saveRecord(inbound.record)
            #expect(inbound.startedNewSession == false)
            return inbound.content.body
        }

        for round in 0..<3 {
            let toBob = try send("after the upgrade \(round)", from: aliceStore, to: bob)
            #expect(try receive(toBob, at: bobStore, from: alice, identity: bobIdentity) == .text("after the upgrade \(round)"))
            let toAlice = try send("still readable \(round)", from: bobStore, to: alice)
            #expect(try receive(toAlice, at: aliceStore, from: bob, identity: aliceIdentity) == .text("still readable \(round)"))
        }
    }

    @Test("a schema-1 row left behind (a crash before the data migration) is still read as a record")
    func legacyRowStillDecodes() throws {
        let directory = try TemporaryDirectory()
        let path = try Self.copyFixture("alice", into: directory)
        let migrated = try ClientDatabase.open(path, password: Self.alicePassword, cost: .interactive)
        let record = try #require(try migrated.sessions.record(with: Username("bob")))
        migrated.close()
        // Put the original schema-1 blob back, as if the migration had not run yet.
        let original = try Self.copyFixture("alice", into: directory, as: "original")
        let legacyRows = try RawSQLite.query("SELECT peer_hash, sealed FROM sessions", onDatabaseAt: original)
        guard case .blob(let peerHash) = legacyRows.first?[0], case .blob(let sealed) = legacyRows.first?[1] else {
            Issue.record("the fixture has no session row")
            return
        }
        try RawSQLite.execute(
            "UPDATE sessions SET sealed = \(RawSQLite.literal(sealed)) WHERE peer_hash = \(RawSQLite.literal(peerHash))", onDatabaseAt: path)
        let reopened = try ClientDatabase.open(path, password: Self.alicePassword, cost: .interactive)
        #expect(try reopened.sessions.record(with: Username("bob")) == record)
        reopened.close()
    }
}

extension SQLiteClientStore {
    fileprivate func identityIsPresent() throws -> Bool { try keys.identityKeyPair() != nil }
}
