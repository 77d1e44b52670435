import ClientCore
import Conversations
import Envelope
import Foundation
import PNGImages
import Primitives
import SQLiteStore
import SodiumCrypto
import Testing

/// An account written by the previous client version (schema 2: every image a plain PNG file in
/// `images/<peer>/<date>/`, its path in history; made by the real `parley` binary, see
/// `Fixtures/client-v2/README.md`) opens with this build: each image is sealed into the blob
/// store, its entry rewritten, and the plain file removed; nothing is lost.
@Suite("Client image migration from schema 2")
struct ClientImageMigrationTests {
    static let password = "bob-fixture-password"
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/client-v2/bob")
    static let received = (file: "images/alice/2026-12-01/110358-8ec0822d.png", id: "8ec0822dc53c334dc5c9fbf9cadb9961", width: UInt32(4), height: UInt32(3))
    static let sent = (file: "images/alice/2026-12-01/110359-06bbe6ff.png", id: "06bbe6ff058b4240e73699b48fb2b3f5", width: UInt32(3), height: UInt32(2))

    /// A copy of the fixture's account folder (the committed files are never written).
    private func copyAccount(into directory: borrowing TemporaryDirectory) throws -> String {
        let account = directory.file("bob")
        try FileManager.default.copyItem(atPath: Self.fixture.path, toPath: account)
        return account
    }

    private func importer(_ account: String) throws -> (LegacyImageImport, ImageSealer, FileSystemImageBlobStore) {
        let blobs = FileSystemImageBlobStore(root: account)
        let sealer = ImageSealer(crypto: try SodiumCryptoProvider(), random: try SodiumRandomSource(), blobs: blobs)
        return (LegacyImageImport(sealer: sealer, library: FileSystemImageLibrary(root: account)), sealer, blobs)
    }

    @Test("a schema-2 account opens at schema 3: both images sealed and readable, the plain files and the peer's folder gone")
    func sealsThePlainImages() throws {
        let directory = try TemporaryDirectory()
        let account = try copyAccount(into: directory)
        let database = account + "/" + SQLiteClientStore.fileName
        #expect(try RawSQLite.query("PRAGMA user_version", onDatabaseAt: database) == [[.integer(2)]])
        let plainReceived = [UInt8](try Data(contentsOf: URL(fileURLWithPath: account + "/" + Self.received.file)))
        let plainSent = [UInt8](try Data(contentsOf: URL(fileURLWithPath: account + "/" + Self.sent.file)))
        let (legacy, sealer, blobs) = try importer(account)

        let store = try ClientDatabase.open(database, password: Self.password, cost: .interactive, legacyImages: legacy)
        #expect(try store.schemaVersion() == SQLiteClientStore.latestSchemaVersion)
        let history = try store.history.entries(with: Username("alice"), limit: 10)
        #expect(history.count == 3)
        #expect(history.first?.body == .text("hello bob, an image from the v2 client follows"))
        for (entry, expected, plain, direction) in [
            (history[1], Self.received, plainReceived, HistoryEntry.Direction.received), (history[2], Self.sent, plainSent, .sent),
        ] {
            #expect(entry.id.hex == expected.id)
            #expect(entry.direction == direction)
            guard case .image(let reference, let width, let height) = entry.body else {
                Issue.record("entry \(expected.id) is not an image")
                continue
            }
            #expect((width, height) == (expected.width, expected.height))
            #expect(try sealer.open(reference, messageID: entry.id) == plain, "the sealed copy of \(expected.file)")
            #expect(!FileManager.default.fileExists(atPath: account + "/" + expected.file), "\(expected.file) is still in clear")
        }
        // No folder named after the peer is left, and the blobs show nothing of the images.
        #expect(!FileManager.default.fileExists(atPath: account + "/images/alice"))
        let ids = try blobs.allIDs()
        #expect(ids.count == 2)
        for id in ids {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: blobs.path(of: id))))
            #expect(!bytes.starts(with: [0x89, 0x50, 0x4e, 0x47]) && bytes.firstRange(of: [0x49, 0x48, 0x44, 0x52]) == nil, "a PNG header in blob \(id.hex)")
        }
        #expect(try RawSQLite.query("SELECT count(*) FROM pending_data_migrations", onDatabaseAt: database) == [[.integer(0)]])
        store.close()

        // Opening again migrates nothing more and reads the same.
        let again = try ClientDatabase.open(database, password: Self.password, cost: .interactive, legacyImages: legacy)
        #expect(try again.history.entries(with: Username("alice"), limit: 10) == history)
        #expect(try blobs.allIDs().count == 2)
        again.close()
    }

    @Test("opened without the image store, a schema-2 account with images is refused and keeps its migration for later")
    func withoutTheImageStoreNothingIsLost() throws {
        let directory = try TemporaryDirectory()
        let account = try copyAccount(into: directory)
        let database = account + "/" + SQLiteClientStore.fileName
        #expect(throws: ClientStoreError.self) { try ClientDatabase.open(database, password: Self.password, cost: .interactive) }
        #expect(FileManager.default.fileExists(atPath: account + "/" + Self.received.file))
        #expect(try RawSQLite.query("SELECT name FROM pending_data_migrations", onDatabaseAt: database) == [[.text("sealed-images")]])

        let (legacy, sealer, _) = try importer(account)
        let store = try ClientDatabase.open(database, password: Self.password, cost: .interactive, legacyImages: legacy)
        let images = try store.history.entries(with: Username("alice"), limit: 10).compactMap { entry -> [UInt8]? in
            guard case .image(let reference, _, _) = entry.body else { return nil }
            return try sealer.open(reference, messageID: entry.id)
        }
        #expect(images.count == 2)
        store.close()
    }

    @Test("a plain file already deleted by hand leaves its entry in history, reported missing when opened")
    func aMissingPlainFileKeepsItsEntry() throws {
        let directory = try TemporaryDirectory()
        let account = try copyAccount(into: directory)
        try FileManager.default.removeItem(atPath: account + "/" + Self.sent.file)
        let (legacy, sealer, _) = try importer(account)
        let store = try ClientDatabase.open(account + "/" + SQLiteClientStore.fileName, password: Self.password, cost: .interactive, legacyImages: legacy)
        let history = try store.history.entries(with: Username("alice"), limit: 10)
        #expect(history.count == 3)
        guard case .image(let missing, _, _) = history[2].body, case .image(let present, _, _) = history[1].body else {
            Issue.record("not images")
            return
        }
        #expect(throws: StoreError.notFound(FileSystemImageBlobStore(root: account).path(of: missing.blobID))) {
            try sealer.open(missing, messageID: history[2].id)
        }
        #expect(try sealer.open(present, messageID: history[1].id).count > 0)
        store.close()
    }
}
