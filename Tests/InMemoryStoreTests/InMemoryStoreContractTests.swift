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

    @Test(arguments: BlockStoreContract.checks)
    func blockStore(_ check: ContractCheck<BlockStoreFactory>) async throws {
        try await check.run { InMemoryBlockStore() }
    }
}
