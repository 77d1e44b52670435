import Foundation
import PostgresStore
import PostgresTestCluster
import StoreContractTests
import Testing

/// Every server store contract, run against the PostgreSQL adapters, each check in a fresh
/// database of the test process's cluster (see ``PostgresCluster``).
@Suite("PostgreSQL stores meet the store contracts", .enabled(if: PostgresCluster.shouldRun, "PostgreSQL is not installed"))
struct PostgresStoreContractTests {
    @Test(arguments: AccountStoreContract.checks)
    func accountStore(_ check: ContractCheck<AccountStoreFactory>) async throws {
        try await withTestDatabase { database in try await check.run { try database.store().accounts } }
    }

    @Test(arguments: PrekeyStoreContract.checks)
    func prekeyStore(_ check: ContractCheck<PrekeyStoreFactory>) async throws {
        try await withTestDatabase { database in try await check.run { try database.store().prekeys } }
    }

    @Test(arguments: MailboxStoreContract.checks)
    func mailboxStore(_ check: ContractCheck<MailboxStoreFactory>) async throws {
        try await withTestDatabase { database in try await check.run { limits in try database.store(mailboxLimits: limits).mailbox } }
    }

    @Test(arguments: BlockStoreContract.checks)
    func blockStore(_ check: ContractCheck<BlockStoreFactory>) async throws {
        try await withTestDatabase { database in try await check.run { try database.store().blocks } }
    }

    @Test(arguments: AccountDeletionStoreContract.checks)
    func accountDeletionStore(_ check: ContractCheck<AccountDeletionStoreFactory>) async throws {
        try await withTestDatabase { database in
            try await check.run {
                let store = try database.store()
                return ServerStores(accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks, deletion: store.accountDeletion)
            }
        }
    }

    @Test(arguments: MailboxRecipientContract.checks)
    func mailboxRecipientChecks(_ check: ContractCheck<AccountDeletionStoreFactory>) async throws {
        try await withTestDatabase { database in
            try await check.run {
                let store = try database.store()
                return ServerStores(accounts: store.accounts, prekeys: store.prekeys, mailbox: store.mailbox, blocks: store.blocks, deletion: store.accountDeletion)
            }
        }
    }

    @Test(arguments: AccountEventBusContract.checks)
    func accountEventBus(_ check: ContractCheck<AccountEventBusFactory>) async throws {
        try await withTestDatabase { database in try await check.run { database.bus(try database.store()) } }
    }
}

/// Where PostgreSQL is required (CI), its absence is a failure, not a skip.
@Suite("PostgreSQL is present where it is required")
struct PostgresRequirementTests {
    @Test(.enabled(if: PostgresCluster.isRequired, "PARLEY_REQUIRE_INTEROP=1 (or CI) is not set"))
    func theTestClusterStarts() throws {
        let cluster = try PostgresCluster.shared()
        #expect(try cluster.psql("SELECT 1").trimmingCharacters(in: .whitespacesAndNewlines) == "1")
    }
}
