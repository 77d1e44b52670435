import Conversations
import Envelope
import Foundation
import Primitives
import SQLiteStore
import SodiumCrypto
import Testing

/// Client databases written by an older build (schema version 1, `Fixtures/client-v1`, see its
/// README), opened by the current code: the upgrade path a real user takes. While the latest
/// schema is still 1 this checks that nothing in the record encodings drifted; once a version 2
/// exists the same files exercise the migration.
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

    @Test("the two stored sessions still carry messages in both directions")
    func sessionsStillWork() throws {
        let directory = try TemporaryDirectory()
        let aliceStore = try open("alice", password: "alice-fixture-password", in: directory)
        let bobStore = try open("bob", password: "bob-fixture-password", in: directory)
        let crypto = try SodiumCryptoProvider()
        let random = try SodiumRandomSource()
        let cipher = SessionCipher(crypto: crypto, random: random)
        let (aliceName, bobName) = (try Username("alice"), try Username("bob"))
        var aliceSession = try #require(try aliceStore.sessions.session(with: bobName))
        var bobSession = try #require(try bobStore.sessions.session(with: aliceName))
        let aliceIdentity = try #require(try aliceStore.keys.identityKeyPair())
        let bobIdentity = try #require(try bobStore.keys.identityKeyPair())
        #expect(aliceSession.peerIdentityKey == bobIdentity.publicKey)
        #expect(bobSession.peerIdentityKey == aliceIdentity.publicKey)

        for round in 0..<2 {
            let toBob = MessageContent(id: MessageID.random(using: random), sentAt: Timestamp(millisecondsSinceEpoch: 1), body: .text("to bob \(round)"))
            let envelope = try cipher.encrypt(toBob, in: &aliceSession)
            let atBob = try cipher.decrypt(envelope, from: aliceName, existing: bobSession, localIdentity: bobIdentity, keys: bobStore.keys)
            #expect(atBob.content == toBob)
            #expect(!atBob.startedNewSession)
            bobSession = atBob.session

            let toAlice = MessageContent(id: MessageID.random(using: random), sentAt: Timestamp(millisecondsSinceEpoch: 2), body: .text("to alice \(round)"))
            let reply = try cipher.encrypt(toAlice, in: &bobSession)
            let atAlice = try cipher.decrypt(reply, from: bobName, existing: aliceSession, localIdentity: aliceIdentity, keys: aliceStore.keys)
            #expect(atAlice.content == toAlice)
            aliceSession = atAlice.session
        }
    }
}
