import Accounts
import Foundation
import Prekeys
import Primitives
import SQLiteStore
import ServerCore
import Testing

/// What only a file-backed store can get wrong: persistence across reopening, schema versions (a
/// new file gets the latest; files written by an older build are opened in
/// `SQLiteClientV1FixtureTests`), hostile or damaged files, and file permissions.
@Suite("SQLite database files")
struct SQLiteFileTests {
    let alice: Username
    let bob: Username

    init() throws {
        alice = try Username("alice")
        bob = try Username("bob")
    }

    @Test func everyStoreSurvivesCloseAndReopen() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let record = AccountRecord(
            username: alice, passwordHash: "$argon2id$hash", identityKey: try Ed25519PublicKey(bytes: [UInt8](repeating: 1, count: 32)),
            createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000), failedLoginCount: 5,
            lockedUntil: Timestamp(millisecondsSinceEpoch: 1_700_000_001_000))
        let signed = try SignedPrekey(
            id: 7, publicKey: X25519PublicKey(bytes: [UInt8](repeating: 2, count: 32)),
            signature: Ed25519Signature(bytes: [UInt8](repeating: 3, count: 64)))
        let oneTime = try (1...3).map { OneTimePrekey(id: $0, publicKey: try X25519PublicKey(bytes: [UInt8](repeating: UInt8($0), count: 32))) }
        let draft = MailboxEnvelopeDraft(sender: bob, recipient: alice, payload: [9, 8, 7], acceptedAt: Timestamp(millisecondsSinceEpoch: 5))

        let envelope: MailboxEnvelope
        do {
            let store = try SQLiteServerStore(path: path)
            try store.accounts.create(record)
            try store.prekeys.setSignedPrekey(signed, for: alice)
            try store.prekeys.addOneTimePrekeys(oneTime, for: alice)
            _ = try store.prekeys.takePrekeys(for: alice)
            guard case .accepted(let accepted) = try store.mailbox.enqueue([draft]).first else {
                Issue.record("the envelope was not accepted")
                return
            }
            envelope = accepted
            try store.blocks.block(bob, by: alice)
            store.close()
            #expect(throws: StoreError.self) { try store.accounts.find(alice) }
        }

        let reopened = try SQLiteServerStore(path: path)
        #expect(try reopened.accounts.find(alice) == record)
        #expect(try reopened.prekeys.oneTimePrekeyCount(for: alice) == 2)
        let bundle = try #require(try reopened.prekeys.takePrekeys(for: alice))
        #expect(bundle.signedPrekey == signed)
        #expect(bundle.oneTimePrekey == oneTime[1])
        #expect(try reopened.mailbox.pending(for: alice, after: nil, limit: 10) == [envelope])
        #expect(try reopened.blocks.isBlocked(sender: bob, by: alice))
        // Ids continue after the last one ever handed out, across the reopen.
        _ = try reopened.mailbox.acknowledge([envelope.id], for: alice)
        guard case .accepted(let next) = try reopened.mailbox.enqueue([draft]).first else {
            Issue.record("the envelope was not accepted")
            return
        }
        #expect(next.id > envelope.id)
    }

    @Test func aNewFileGetsTheLatestSchemaVersion() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let store = try SQLiteServerStore(path: path)
        #expect(try store.schemaVersion() == SQLiteServerStore.latestSchemaVersion)
        #expect(SQLiteServerStore.latestSchemaVersion >= 1)
        store.close()
        // Reopening changes nothing and keeps the version.
        #expect(try SQLiteServerStore(path: path).schemaVersion() == SQLiteServerStore.latestSchemaVersion)
    }

    /// Schema 1 let two accounts share an identity key (the unknown key-share of issue 10).
    /// Migrating to schema 2 keeps the earliest registration of each key (a key is public only
    /// once its account published it, so later ones copied it), removes the copies with their
    /// prekeys, mail and blocks, and from then on refuses a second account with the same key.
    @Test func schemaTwoKeepsTheFirstAccountOfEachIdentityKeyAndRefusesCopies() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let shared = RawSQLite.literal([UInt8](repeating: 0xAA, count: 32))
        let own = RawSQLite.literal([UInt8](repeating: 0xBB, count: 32))
        let spk = RawSQLite.literal([UInt8](repeating: 2, count: 32))
        let signature = RawSQLite.literal([UInt8](repeating: 3, count: 64))
        // Schema 1 exactly as the previous build created it, with mallory's copy of alice's key.
        try RawSQLite.execute(
            ServerSchemaHistory.schema(upTo: 1) + """

            INSERT INTO accounts (username, password_hash, identity_key, created_at) VALUES
                ('alice', 'h', \(shared), 1000), ('mallory', 'h', \(shared), 2000), ('bob', 'h', \(own), 1500);
            INSERT INTO signed_prekeys VALUES ('alice', 1, \(spk), \(signature)), ('mallory', 1, \(spk), \(signature));
            INSERT INTO one_time_prekeys VALUES ('mallory', 1, \(spk)), ('alice', 1, \(spk));
            INSERT INTO mailbox (recipient, sender, accepted_at, size, payload) VALUES ('mallory', 'bob', 1, 1, x'01'), ('alice', 'bob', 1, 1, x'02');
            INSERT INTO blocks VALUES ('mallory', 'bob'), ('bob', 'mallory');
            """, onDatabaseAt: path)

        let store = try SQLiteServerStore(path: path)
        defer { store.close() }
        #expect(try store.schemaVersion() == SQLiteServerStore.latestSchemaVersion)
        let mallory = try Username("mallory")
        #expect(try store.accounts.find(mallory) == nil)
        #expect(try store.prekeys.oneTimePrekeyCount(for: mallory) == 0)
        #expect(try store.prekeys.takePrekeys(for: mallory) == nil)
        #expect(try store.mailbox.usage(for: mallory).count == 0)
        #expect(try !store.blocks.isBlocked(sender: mallory, by: bob))
        #expect(try !store.blocks.isBlocked(sender: bob, by: mallory))
        let kept = try #require(try store.accounts.find(alice))
        #expect(kept.identityKey.bytes == [UInt8](repeating: 0xAA, count: 32))
        #expect(kept.identitySignature == nil)
        #expect(try store.accounts.find(bob) != nil)
        #expect(try store.prekeys.oneTimePrekeyCount(for: alice) == 1)
        #expect(try store.mailbox.usage(for: alice).count == 1)
        #expect(try store.accounts.username(withIdentityKey: kept.identityKey) == alice)
        let copy = AccountRecord(
            username: try Username("mallory2"), passwordHash: "h", identityKey: kept.identityKey,
            identitySignature: try Ed25519Signature(bytes: [UInt8](repeating: 4, count: 64)), createdAt: Timestamp(millisecondsSinceEpoch: 3000))
        let error = #expect(throws: StoreError.self) { try store.accounts.create(copy) }
        if case .alreadyExists = error {} else { Issue.record("expected alreadyExists, got \(String(describing: error))") }
    }

    @Test func anEmptyExistingFileGetsTheLatestSchemaVersion() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        #expect(try SQLiteServerStore(path: path).schemaVersion() == SQLiteServerStore.latestSchemaVersion)
    }

    @Test func aFileOfRandomBytesIsRefusedAsCorrupt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<16_384).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        try Data(noise).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: StoreError.self) { try SQLiteServerStore(path: path) }
        guard case .corrupt(let message)? = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(message.contains("not a SQLite database or is damaged"))
        // Nothing was written to the file.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(noise))
    }

    @Test(arguments: [0.5, 0.25])
    func aTruncatedDatabaseIsRefusedCleanly(keeping fraction: Double) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        do {
            let store = try SQLiteServerStore(path: path)
            // Enough rows to spread the tables over many pages.
            for round in 0..<20 {
                let drafts = (0..<50).map { index in
                    MailboxEnvelopeDraft(
                        sender: bob, recipient: alice, payload: [UInt8](repeating: UInt8(index), count: 900),
                        acceptedAt: Timestamp(millisecondsSinceEpoch: Int64(round)))
                }
                _ = try store.mailbox.enqueue(drafts)
            }
            store.close()
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: UInt64(Double(size) * fraction))
        try handle.close()
        let error = #expect(throws: StoreError.self) { try SQLiteServerStore(path: path) }
        guard case .corrupt? = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
    }

    @Test func aForeignSQLiteDatabaseIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        // A valid SQLite file that some other program made: a table, no application id.
        try RawSQLite.execute("CREATE TABLE notes (body TEXT)", onDatabaseAt: path)
        let error = #expect(throws: StoreError.self) { try SQLiteServerStore(path: path) }
        guard case .corrupt(let message)? = error else {
            Issue.record("expected corrupt, got \(String(describing: error))")
            return
        }
        #expect(message.contains("another application"))
    }

    @Test func aSchemaFromANewerBuildIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try SQLiteServerStore(path: path).close()
        try RawSQLite.execute("PRAGMA user_version = 99", onDatabaseAt: path)
        let error = #expect(throws: StoreError.self) { try SQLiteServerStore(path: path) }
        guard case .unavailable(let message)? = error else {
            Issue.record("expected unavailable, got \(String(describing: error))")
            return
        }
        #expect(message.contains("newer"))
    }

    @Test func rowsAlteredBehindTheAdaptersBackAreReportedAsCorrupt() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let store = try SQLiteServerStore(path: path)
        try RawSQLite.execute(
            "INSERT INTO accounts (username, password_hash, identity_key, created_at) VALUES ('alice', 'h', x'0102', 0)",
            onDatabaseAt: path)
        try RawSQLite.execute(
            "INSERT INTO mailbox (id, recipient, sender, accepted_at, size, payload) VALUES (1000, 'bob', 'Not A Name!', 0, 1, x'00')",
            onDatabaseAt: path)
        let accountError = #expect(throws: StoreError.self) { try store.accounts.find(alice) }
        #expect(accountError.map { if case .corrupt = $0 { true } else { false } } == true)
        let mailboxError = #expect(throws: StoreError.self) { try store.mailbox.pending(for: bob, after: nil, limit: 10) }
        #expect(mailboxError.map { if case .corrupt = $0 { true } else { false } } == true)
    }

    @Test func theDatabaseIsCreatedReadableByItsOwnerOnly() throws {
        let directory = try TemporaryDirectory()
        let dataDirectory = directory.file("data")
        let store = try SQLiteServerStore(dataDirectory: dataDirectory)
        try store.accounts.create(AccountRecord(
            username: alice, passwordHash: "h", identityKey: try Ed25519PublicKey(bytes: [UInt8](repeating: 1, count: 32)),
            createdAt: Timestamp(millisecondsSinceEpoch: 0)))
        let files = try FileManager.default.contentsOfDirectory(atPath: dataDirectory)
        #expect(files.contains(SQLiteServerStore.fileName))
        #expect(try permissions(dataDirectory) == 0o700)
        // The database and, while it is open, its WAL and shared-memory files.
        for file in files {
            #expect(try permissions(dataDirectory + "/" + file) == 0o600, "\(file)")
        }
    }

    @Test func anExistingWorldReadableFileIsTightened() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(), attributes: [.posixPermissions: 0o644]))
        _ = try SQLiteServerStore(path: path)
        #expect(try permissions(path) == 0o600)
    }

    @Test func aPathThatCannotBeOpenedIsUnavailable() throws {
        let directory = try TemporaryDirectory()
        let error = #expect(throws: StoreError.self) { try SQLiteServerStore(path: directory.file("missing/dir/server.sqlite")) }
        guard case .unavailable? = error else {
            Issue.record("expected unavailable, got \(String(describing: error))")
            return
        }
        // A directory is not a database file.
        #expect(throws: StoreError.self) { try SQLiteServerStore(path: directory.path) }
    }

    private func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}
