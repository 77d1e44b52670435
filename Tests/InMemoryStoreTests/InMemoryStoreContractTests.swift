import ClientCore
import InMemoryStore
import StoreContractTests
import Testing

/// Every store contract, run against the in-memory adapters.
@Suite("In-memory stores meet the store contracts")
struct InMemoryStoreContractTests {
    @Test(arguments: AccountStoreContract.checks)
    func accountStore(_ check: ContractCheck<AccountStoreFactory>) async throws {
        try await check.run { InMemoryAccountStore() }
    }

    @Test(arguments: PrekeyStoreContract.checks)
    func prekeyStore(_ check: ContractCheck<PrekeyStoreFactory>) async throws {
        try await check.run { InMemoryPrekeyStore() }
    }

    @Test(arguments: MailboxStoreContract.checks)
    func mailboxStore(_ check: ContractCheck<MailboxStoreFactory>) async throws {
        try await check.run { limits in InMemoryMailboxStore(limits: limits) }
    }

    @Test(arguments: AccountEventBusContract.checks)
    func accountEventBus(_ check: ContractCheck<AccountEventBusFactory>) async throws {
        try await check.run { InMemoryEventBus() }
    }

    @Test(arguments: BlockStoreContract.checks)
    func blockStore(_ check: ContractCheck<BlockStoreFactory>) async throws {
        try await check.run { InMemoryBlockStore() }
    }

    @Test(arguments: AccountDeletionStoreContract.checks)
    func accountDeletionStore(_ check: ContractCheck<AccountDeletionStoreFactory>) async throws {
        try await check.run(Self.serverStores)
    }

    @Test(arguments: MailboxRecipientContract.checks)
    func mailboxRecipientChecks(_ check: ContractCheck<AccountDeletionStoreFactory>) async throws {
        try await check.run(Self.serverStores)
    }

    @Sendable static func serverStores() -> ServerStores {
        let (accounts, prekeys, blocks) = (InMemoryAccountStore(), InMemoryPrekeyStore(), InMemoryBlockStore())
        let mailbox = InMemoryMailboxStore(accounts: accounts, blocks: blocks)
        return ServerStores(
            accounts: accounts, prekeys: prekeys, mailbox: mailbox, blocks: blocks,
            deletion: InMemoryAccountDeletionStore(accounts: accounts, prekeys: prekeys, mailbox: mailbox, blocks: blocks))
    }
}

/// The client-side store contracts, run against the in-memory adapters.
@Suite("In-memory client stores meet the store contracts")
struct InMemoryClientStoreContractTests {
    @Test(arguments: LocalKeyStoreContract.checks)
    func localKeyStore(_ check: ContractCheck<LocalKeyStoreFactory>) async throws {
        try await check.run { InMemoryLocalKeyStore() }
    }

    @Test(arguments: SessionStoreContract.checks)
    func sessionStore(_ check: ContractCheck<SessionStoreFactory>) async throws {
        try await check.run { InMemorySessionStore() }
    }

    @Test(arguments: ImageBlobStoreContract.checks)
    func imageBlobStore(_ check: ContractCheck<ImageBlobStoreFactory>) async throws {
        try await check.run { InMemoryImageBlobStore() }
    }

    @Test(arguments: ContactStoreContract.checks)
    func contactStore(_ check: ContractCheck<ContactStoreFactory>) async throws {
        try await check.run { InMemoryContactStore() }
    }

    @Test(arguments: HistoryStoreContract.checks)
    func historyStore(_ check: ContractCheck<HistoryStoreFactory>) async throws {
        try await check.run { InMemoryHistoryStore() }
    }

    @Test(arguments: SentMessageLogContract.checks)
    func sentMessageLog(_ check: ContractCheck<SentMessageLogFactory>) async throws {
        try await check.run { limits in InMemorySentMessageLog(limits: limits) }
    }

    @Test(arguments: EventLogContract.checks)
    func eventLog(_ check: ContractCheck<EventLogFactory>) async throws {
        try await check.run { limits in InMemoryEventLog(limits: limits) }
    }

    @Test(arguments: UnitOfWorkContract.checks)
    func unitOfWork(_ check: ContractCheck<UnitOfWorkFactory>) async throws {
        try await check.run { InMemoryClientStores() }
    }

    @Test(arguments: ClientSettingsStoreContract.checks)
    func clientSettingsStore(_ check: ContractCheck<ClientSettingsStoreFactory>) async throws {
        try await check.run { InMemoryClientSettingsStore() }
    }
}
