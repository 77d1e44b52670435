import Conversations
import Envelope
import Foundation
import Primitives
import SQLiteStore
import SodiumCrypto
import Testing

/// Client databases written by an older build (schema version 1, `Fixtures/client-v1`, see its
/// README), opened by the current code: the upgrade path a real user takes. Their sessions are
/// checked, after the migration to session records, by `ClientMigrationTests`.
@Suite("Client databases written by schema version 1")
struct SQLiteClientV1FixtureTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/client-v1")

    /// Copies `name` to a temporary folder (the fixture itself is never written) and opens it.
    private func open(_ name: String, password: String, in directory: borrowing TemporaryDirectory) throws -> SQLiteClientStore {
        let path = directory.file(name + ".sqlite")
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent(name + ".sqlite").path, toPath: path)
        // The files were written with the default cost; opening with it leaves the keyring as is.
        return try ClientDatabase.open(path, password: password, cost: .interactive)
    }

    @Test("both files open at the latest schema with their history intact")
    func historyIsIntact() throws {
        let directory = try TemporaryDirectory()
        let alice = try open("alice", password: "alice-fixture-password", in: directory)
        let bob = try open("bob", password: "bob-fixture-password", in: directory)
        #expect(try alice.schemaVersion() == SQLiteClientStore.latestSchemaVersion)
        #expect(try bob.schemaVersion() == SQLiteClientStore.latestSchemaVersion)

        let texts = ["hello bob, from the v1 client", "hello alice, v1 reply", "second from alice"].map { HistoryEntry.Body.text($0) }
        let aliceHistory = try alice.history.entries(with: Username("bob"), limit: 10)
        let bobHistory = try bob.history.entries(with: Username("alice"), limit: 10)
        #expect(aliceHistory.map(\.body) == texts)
        #expect(aliceHistory.map(\.direction) == [.sent, .received, .sent])
        #expect(bobHistory.map(\.body) == texts)
        #expect(bobHistory.map(\.direction) == [.received, .sent, .received])
        #expect(aliceHistory.map(\.id) == bobHistory.map(\.id))
        #expect(try alice.contacts.contact(named: Username("bob"))?.status == .accepted)
        #expect(try bob.contacts.contact(named: Username("alice"))?.status == .accepted)
    }
}
