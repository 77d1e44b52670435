import Accounts
import Primitives
import SQLiteStore
import Testing

/// The SQLite account deletion is one transaction: a statement failing part way rolls back all.
@Suite("SQLite account deletion")
struct SQLiteAccountDeletionTests {
    @Test("a failure in the last part of a deletion leaves every row of the account in place")
    func failureDeletesNothing() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        let store = try SQLiteServerStore(path: path)
        defer { store.close() }
        let bob = try Username("bob")
        try store.accounts.create(AccountRecord(
            username: bob, passwordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
            identityKey: try Ed25519PublicKey(bytes: [UInt8](repeating: 1, count: Ed25519PublicKey.byteCount)),
            createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)))
        try store.blocks.block(try Username("carol"), by: bob)
        try RawSQLite.execute(
            "CREATE TRIGGER fail_block_removal BEFORE DELETE ON blocks BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
            onDatabaseAt: path)

        #expect(throws: StoreError.self) { try store.accountDeletion.deleteAccount(bob) }
        #expect(try store.accounts.find(bob) != nil)
        #expect(try store.blocks.blocked(by: bob) == [try Username("carol")])
    }
}
