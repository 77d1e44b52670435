import ClientCore
import SQLiteStore
import StoreContractTests
import Testing

/// Every store contract, run against the SQLite adapters, each check on a fresh database file.
@Suite("SQLite stores meet the store contracts")
struct SQLiteStoreContractTests {
    @Test(arguments: AccountStoreContract.checks)
    func accountStore(_ check: ContractCheck<AccountStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try await check.run { try SQLiteServerStore(path: path).accounts }
    }

    @Test(arguments: PrekeyStoreContract.checks)
    func prekeyStore(_ check: ContractCheck<PrekeyStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try await check.run { try SQLiteServerStore(path: path).prekeys }
    }

    @Test(arguments: MailboxStoreContract.checks)
    func mailboxStore(_ check: ContractCheck<MailboxStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try await check.run { limits in try SQLiteServerStore(path: path, mailboxLimits: limits).mailbox }
    }

    @Test(arguments: BlockStoreContract.checks)
    func blockStore(_ check: ContractCheck<BlockStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try await check.run { try SQLiteServerStore(path: path).blocks }
    }

    @Test(arguments: AccountDeletionStoreContract.checks)
    func accountDeletionStore(_ check: ContractCheck<AccountDeletionStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try await check.run {
            let store = try SQLiteServerStore(path: path)
            return ServerStores(accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks, deletion: store.accountDeletion)
        }
    }

    @Test(arguments: MailboxRecipientContract.checks)
    func mailboxRecipientChecks(_ check: ContractCheck<AccountDeletionStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("server.sqlite")
        try await check.run {
            let store = try SQLiteServerStore(path: path)
            return ServerStores(accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks, deletion: store.accountDeletion)
        }
    }
}

/// The client-side store contracts, run against the stores of ``SQLiteClientStore``, each check on
/// a fresh encrypted database file.
@Suite("SQLite client stores meet the store contracts")
struct SQLiteClientStoreContractTests {
    @Test(arguments: LocalKeyStoreContract.checks)
    func localKeyStore(_ check: ContractCheck<LocalKeyStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { try ClientDatabase.open(path).keys }
    }

    @Test(arguments: SessionStoreContract.checks)
    func sessionStore(_ check: ContractCheck<SessionStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { try ClientDatabase.open(path).sessions }
    }

    @Test(arguments: ContactStoreContract.checks)
    func contactStore(_ check: ContractCheck<ContactStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { try ClientDatabase.open(path).contacts }
    }

    @Test(arguments: HistoryStoreContract.checks)
    func historyStore(_ check: ContractCheck<HistoryStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { try ClientDatabase.open(path).history }
    }

    @Test(arguments: SentMessageLogContract.checks)
    func sentMessageLog(_ check: ContractCheck<SentMessageLogFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { limits in try ClientDatabase.open(path, sentLogLimits: limits).sentLog }
    }

    @Test(arguments: EventLogContract.checks)
    func eventLog(_ check: ContractCheck<EventLogFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { limits in try ClientDatabase.open(path, eventLogLimits: limits).eventLog }
    }

    @Test(arguments: UnitOfWorkContract.checks)
    func unitOfWork(_ check: ContractCheck<UnitOfWorkFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { try ClientDatabase.open(path) }
    }

    @Test(arguments: ClientSettingsStoreContract.checks)
    func clientSettingsStore(_ check: ContractCheck<ClientSettingsStoreFactory>) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file(SQLiteClientStore.fileName)
        try await check.run { try ClientDatabase.open(path).settings }
    }
}
