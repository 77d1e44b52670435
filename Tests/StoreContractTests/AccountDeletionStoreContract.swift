import Accounts
import Prekeys
import Primitives
import ServerCore
import Testing

/// The four server stores and the deletion that spans them, all over one backing store.
public struct ServerStores: Sendable {
    public let accounts: any AccountStore
    public let prekeys: any PrekeyStore
    public let mailbox: any MailboxStore
    public let blocks: any BlockStore
    public let deletion: any AccountDeletionStore

    public init(accounts: any AccountStore, prekeys: any PrekeyStore, mailbox: any MailboxStore, blocks: any BlockStore, deletion: any AccountDeletionStore) {
        self.accounts = accounts
        self.prekeys = prekeys
        self.mailbox = mailbox
        self.blocks = blocks
        self.deletion = deletion
    }
}

/// Makes fresh, empty server stores.
public typealias AccountDeletionStoreFactory = @Sendable () throws -> ServerStores

/// The behaviour every ``AccountDeletionStore`` adapter must have: everything about the user goes,
/// nothing about anyone else does. (That a failure deletes nothing is pinned per adapter, where a
/// failure can be injected: `SQLiteFileTests` and the server integration tests.)
public enum AccountDeletionStoreContract {
    public static let checks: [ContractCheck<AccountDeletionStoreFactory>] = [
        ContractCheck("deleting an account removes its record, prekeys (ML-KEM ones too), queued envelopes and blocks either way, and nothing of others") { make in
            let stores = try make()
            try populate(stores, "bob")
            try populate(stores, "alice")
            try stores.blocks.block(user("carol"), by: user("alice"))
            #expect(try stores.deletion.deleteAccount(user("bob")))

            let bob = try user("bob")
            #expect(try stores.accounts.find(bob) == nil)
            #expect(try stores.prekeys.takePrekeys(for: bob) == nil)
            #expect(try stores.prekeys.oneTimePrekeyCount(for: bob) == 0)
            #expect(try stores.prekeys.kemPrekeyStatus(for: bob, limit: 10) == ([], nil))
            #expect(try stores.mailbox.usage(for: bob) == .empty)
            #expect(try stores.blocks.blocked(by: bob) == [])
            #expect(try !stores.blocks.isBlocked(sender: bob, by: user("alice")))

            // Alice keeps everything except her block of the deleted name.
            let alice = try user("alice")
            #expect(try stores.accounts.find(alice) != nil)
            #expect(try stores.prekeys.oneTimePrekeyCount(for: alice) == 3)
            #expect(try stores.prekeys.kemPrekeyStatus(for: alice, limit: 10) == ([1], 100))
            #expect(try stores.mailbox.usage(for: alice).count == 1)
            #expect(try stores.blocks.blocked(by: alice) == [user("carol")])
            // What bob sent alice is hers and stays.
            #expect(try stores.mailbox.pending(for: alice, after: nil, limit: 10).map(\.sender) == [bob])
        },
        ContractCheck("deleting an unknown or already deleted account is not an error and reports that it did not exist") { make in
            let stores = try make()
            try populate(stores, "bob")
            #expect(try !stores.deletion.deleteAccount(user("nobody")))
            #expect(try stores.deletion.deleteAccount(user("bob")))
            #expect(try !stores.deletion.deleteAccount(user("bob")))
        },
    ]

    /// An account with a signed prekey, three one-time prekeys, one envelope from the other of
    /// alice and bob, and a block of the other.
    static func populate(_ stores: ServerStores, _ name: String) throws {
        let other = name == "bob" ? "alice" : "bob"
        try stores.accounts.create(AccountStoreContract.record(name))
        try stores.prekeys.setSignedPrekey(signedPrekey(id: 1, seed: 7), for: user(name))
        try stores.prekeys.addOneTimePrekeys(oneTimePrekeys(1...3), for: user(name))
        try stores.prekeys.setLastResortKEMPrekey(PrekeyStoreContract.kemPrekey(id: 100, seed: 1), for: user(name))
        try stores.prekeys.addOneTimeKEMPrekeys([PrekeyStoreContract.kemPrekey(id: 1, seed: 2)], for: user(name))
        _ = try stores.mailbox.enqueue([MailboxStoreContract.draft(other, name, [1, 2, 3])])
        try stores.blocks.block(user(other), by: user(name))
    }
}
