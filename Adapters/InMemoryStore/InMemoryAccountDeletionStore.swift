import Primitives
import ServerCore

/// ``AccountDeletionStore`` over the in-memory stores: removes the user from all four while holding
/// the account store's lock, so no other account operation sees the deletion half done. Passes
/// `AccountDeletionStoreContract`.
///
/// In memory nothing can fail part way; the lock is what keeps the deletion one step for readers
/// (a login cannot find the record while the mailbox is already gone).
public struct InMemoryAccountDeletionStore: AccountDeletionStore {
    private let accounts: InMemoryAccountStore
    private let prekeys: InMemoryPrekeyStore
    private let mailbox: InMemoryMailboxStore
    private let blocks: InMemoryBlockStore

    public init(accounts: InMemoryAccountStore, prekeys: InMemoryPrekeyStore, mailbox: InMemoryMailboxStore, blocks: InMemoryBlockStore) {
        self.accounts = accounts
        self.prekeys = prekeys
        self.mailbox = mailbox
        self.blocks = blocks
    }

    public func deleteAccount(_ username: Username) throws(StoreError) -> Bool {
        try accounts.deleting(username) { () throws(StoreError) in
            try prekeys.removeAll(for: username)
            try mailbox.removeAll(for: username)
            try blocks.removeAll(for: username)
        }
    }
}
