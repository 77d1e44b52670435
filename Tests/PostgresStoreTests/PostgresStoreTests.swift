import Accounts
import Dispatch
import Foundation
import PostgresTestCluster
import Prekeys
import Primitives
import ServerCore
import Synchronization
import Testing

@testable import PostgresStore

/// What PostgreSQL brings beyond the contracts: several nodes (store instances) on one database,
/// migrations, durability settings and failures of the connection.
@Suite("PostgreSQL stores across nodes", .enabled(if: PostgresCluster.shouldRun, "PostgreSQL is not installed"), .timeLimit(.minutes(3)))
struct PostgresStoreTests {
    @Test func concurrentWritersOnTwoNodesGetGaplessIdsInCommitOrderAndAReaderSkipsNone() async throws {
        try await withTestDatabase { database in
            let nodes = [try database.store(nodeID: "node-a"), try database.store(nodeID: "node-b")]
            let reader = try database.store(nodeID: "node-r")
            let (bob, carol) = (try Username("bob"), try Username("carol"))
            let (rounds, perBatch) = (40, 5)
            let expected = nodes.count * 2 * rounds * perBatch
            // A reader pages through bob's mailbox with an "after id" cursor while the writers run,
            // as a node pushing deliveries does. Ids are gapless per recipient and drawn in commit
            // order, so whatever it reads continues its cursor with no hole: what is committed is
            // always 1...k. (With a global serial id it could see 11 before 10 committed and skip
            // 10 for ever; with one sequence for all recipients, carol's envelopes in the same
            // batches would leave holes in bob's ids.)
            let collected = LockedValue<[MailboxEnvelope]>([])
            let holes = LockedValue<[String]>([])
            let writersDone = Atomic<Bool>(false)
            try await onThreads(nodes.count * 2 + 1) { index throws(StoreError) in
                if index == nodes.count * 2 {
                    var cursor: UInt64?
                    let deadline = Date().addingTimeInterval(120)
                    while Date() < deadline {
                        let finished = writersDone.load(ordering: .acquiring)
                        let page = try reader.mailbox.pending(for: bob, after: cursor, limit: 50)
                        let ids = page.map(\.id)
                        let first = (cursor ?? 0) + 1
                        if !ids.isEmpty && ids != Array(first..<(first + UInt64(ids.count))) {
                            holes.withLock { $0.append("after \(cursor ?? 0): \(ids)") }
                        }
                        collected.withLock { $0 += page }
                        cursor = page.last?.id ?? cursor
                        if finished && page.isEmpty { return }
                    }
                    return
                }
                let node = nodes[index % nodes.count]
                let sender = "sender\(index)"
                for round in 0..<rounds {
                    var batch: [MailboxEnvelopeDraft] = []
                    for item in 0..<perBatch {
                        for recipient in [bob, carol] {
                            batch.append(MailboxEnvelopeDraft(
                                sender: try Self.user(sender), recipient: recipient, payload: [UInt8(round), UInt8(item)],
                                acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)))
                        }
                    }
                    let outcomes = try node.mailbox.enqueue(batch)
                    #expect(outcomes.allSatisfy { if case .accepted = $0 { true } else { false } })
                }
            } whenWritersFinish: { writersDone.store(true, ordering: .releasing) }
            for recipient in [bob, carol] {
                let pending = try reader.mailbox.pending(for: recipient, after: nil, limit: 10_000)
                #expect(pending.map(\.id) == Array(1...UInt64(expected)), "\(recipient)'s ids are 1...\(expected), no gap")
                for index in 0..<(nodes.count * 2) {
                    let mine = pending.filter { $0.sender.value == "sender\(index)" }.map { Int($0.payload[0]) * perBatch + Int($0.payload[1]) }
                    #expect(mine == Array(0..<(rounds * perBatch)), "sender\(index)'s order is kept")
                }
                #expect(try reader.mailbox.usage(for: recipient).count == expected)
            }
            #expect(holes.withLock { $0 } == [], "the paging reader never saw a hole")
            #expect(collected.withLock { $0 } == (try reader.mailbox.pending(for: bob, after: nil, limit: 10_000)),
                    "the paging reader saw every envelope, in id order, none skipped")
        }
    }

    @Test func aVersion2DatabaseKeepsItsEnvelopesAndIdsAndNumbersEachRecipientOnFromItsHead() async throws {
        try await withTestDatabase { database in
            // A schema-2 database as a build of schema 2 left it: that build's DDL (the
            // migrations are append only, so steps 1 and 2 are that DDL), and envelopes whose ids
            // came from the one sequence shared by all recipients (bob 1, 3, 4; carol 2, 5, whose
            // 5 was acknowledged; a rolled-back draw left 6 unused), and frank's 7 without a head
            // row, as only a database altered by hand could have.
            let cluster = try PostgresCluster.shared()
            let oldDDL = PostgresServerStore.migrations.filter { $0.version <= 2 }.flatMap(\.statements)
            try cluster.psql(
                (["CREATE TABLE parley_schema (version integer PRIMARY KEY, summary text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"]
                    + oldDDL
                    + [
                        "INSERT INTO parley_schema (version, summary) VALUES (1, 'one'), (2, 'two')",
                        """
                        INSERT INTO mailbox (recipient, id, sender, accepted_at, size, payload) VALUES
                            ('bob', 1, 'alice', 10, 1, '\\x01'), ('carol', 2, 'alice', 11, 1, '\\x02'),
                            ('bob', 3, 'dave', 12, 2, '\\x0303'), ('bob', 4, 'alice', 13, 1, '\\x04'),
                            ('frank', 7, 'alice', 14, 1, '\\x07')
                        """,
                        "INSERT INTO mailbox_heads (recipient, last_id) VALUES ('bob', 4), ('carol', 5)",
                        "UPDATE mailbox_total SET bytes = 6",
                        "SELECT setval('mailbox_ids', 7)",
                    ]).joined(separator: ";\n"),
                database: database.url.database)
            let store = try database.store(nodeID: "node-a")
            #expect(try store.schemaVersion() == PostgresServerStore.latestSchemaVersion)
            let (alice, bob, carol, erin, frank) = (try Username("alice"), try Username("bob"), try Username("carol"), try Username("erin"), try Username("frank"))
            let before = try store.mailbox.pending(for: bob, after: nil, limit: 10)
            #expect(before.map(\.id) == [1, 3, 4])
            #expect(before.map(\.payload) == [[1], [3, 3], [4]])
            #expect(try store.mailbox.pending(for: carol, after: nil, limit: 10).map(\.id) == [2])
            #expect(try store.mailbox.usage(for: bob) == MailboxUsage(count: 3, bytes: 4))
            // New envelopes continue each recipient's own numbering from its head: bob 5, 6;
            // carol 6 (her 5 was handed out before); frank 8; a new recipient starts at 1.
            let draft = { (recipient: Username) in MailboxEnvelopeDraft(sender: alice, recipient: recipient, payload: [9], acceptedAt: Timestamp(millisecondsSinceEpoch: 20)) }
            let outcomes = try store.mailbox.enqueue([draft(bob), draft(carol), draft(bob), draft(erin), draft(frank)])
            let ids = outcomes.map { outcome -> UInt64? in if case .accepted(let envelope) = outcome { envelope.id } else { nil } }
            #expect(ids == [5, 6, 6, 1, 8])
            #expect(try store.mailbox.pending(for: bob, after: 4, limit: 10).map(\.id) == [5, 6])
            #expect(try cluster.psql("SELECT count(*) FROM pg_class WHERE relname = 'mailbox_ids'", database: database.url.database)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the shared sequence is gone")
            #expect(try store.mailbox.acknowledge([1, 3, 4, 5, 6], for: bob) == 5)
            #expect(try store.mailbox.usage(for: bob) == .empty)
        }
    }

    @Test func aVersion4DatabaseKeepsItsMailAndItsByteTotalWhichStillCountsAgainstTheCap() async throws {
        try await withTestDatabase { database in
            // A schema-4 database as a build of schema 4 left it (steps 1-4 are that build's DDL):
            // bob holds 30 + 30 bytes, carol 20, and the one total row says 80.
            let cluster = try PostgresCluster.shared()
            let oldDDL = PostgresServerStore.migrations.filter { $0.version <= 4 }.flatMap(\.statements)
            try cluster.psql(
                (["CREATE TABLE parley_schema (version integer PRIMARY KEY, summary text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"]
                    + oldDDL
                    + [
                        "INSERT INTO parley_schema (version, summary) VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four')",
                        """
                        INSERT INTO mailbox (recipient, id, sender, accepted_at, size, payload) VALUES
                            ('bob', 1, 'alice', 10, 30, decode(repeat('01', 30), 'hex')), ('bob', 2, 'alice', 11, 30, decode(repeat('02', 30), 'hex')),
                            ('carol', 1, 'alice', 12, 20, decode(repeat('03', 20), 'hex'))
                        """,
                        "INSERT INTO mailbox_heads (recipient, last_id) VALUES ('bob', 2), ('carol', 1)",
                        "UPDATE mailbox_total SET bytes = 80",
                    ]).joined(separator: ";\n"),
                database: database.url.database)
            let limits = MailboxLimits(maxEnvelopes: 100, maxBytes: 1 << 20, maxPayloadBytes: 1024, maxTotalBytes: 100)
            let store = try database.store(nodeID: "node-a", mailboxLimits: limits)
            #expect(try store.schemaVersion() == 5)
            #expect(try cluster.psql("SELECT node, bytes, allowance FROM mailbox_totals ORDER BY node", database: database.url.database)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "|80|80\nnode-a|0|0", "the stored total is kept, as the row of no node")
            #expect(try cluster.psql("SELECT count(*) FROM pg_class WHERE relname = 'mailbox_total'", database: database.url.database)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the one total row is gone")
            let (alice, bob, dave) = (try Username("alice"), try Username("bob"), try Username("dave"))
            let stored = try store.mailbox.pending(for: bob, after: nil, limit: 10)
            #expect(stored.map(\.id) == [1, 2] && stored.map(\.payload) == [[UInt8](repeating: 1, count: 30), [UInt8](repeating: 2, count: 30)])
            #expect(try store.mailbox.usage(for: try Username("carol")) == MailboxUsage(count: 1, bytes: 20))
            // The 80 migrated bytes count: 21 more do not fit in the cap of 100, 20 do.
            let draft = { (size: Int) in MailboxEnvelopeDraft(sender: alice, recipient: dave, payload: [UInt8](repeating: 9, count: size), acceptedAt: Timestamp(millisecondsSinceEpoch: 20)) }
            #expect(try store.mailbox.enqueue([draft(21)]) == [.refused(.serverFull)])
            #expect(try store.mailbox.enqueue([draft(20)]).first?.acceptedEnvelope?.id == 1)
            #expect(try store.mailbox.enqueue([draft(1)]) == [.refused(.serverFull)])
            // Deleting migrated mail frees room (on this node's row); bob's ids go on from his head.
            #expect(try store.mailbox.acknowledge([1], for: bob) == 1)
            #expect(try store.mailbox.enqueue([draft(30)]).first?.acceptedEnvelope != nil)
            #expect(try store.mailbox.enqueue([draft(1)]) == [.refused(.serverFull)])
            let toBob = MailboxEnvelopeDraft(sender: alice, recipient: bob, payload: [], acceptedAt: Timestamp(millisecondsSinceEpoch: 21))
            #expect(try store.mailbox.enqueue([toBob]).first?.acceptedEnvelope?.id == 3)
            #expect(try cluster.psql("SELECT sum(bytes) FROM mailbox_totals", database: database.url.database)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "100")
        }
    }

    @Test func twoNodesFillingTheServerWideCapAtOnceStopExactlyAtItAndFreedRoomMovesBetweenThem() async throws {
        try await withTestDatabase { database in
            // A cap of 1,000 bytes, envelopes of 10: exactly 100 fit, whichever node takes them.
            // Each node accepts within its own allowance and shares the cap out again only when a
            // draft does not fit there, against the true total: never more than the cap, and never
            // a refusal while the true total has room.
            let limits = MailboxLimits(maxEnvelopes: 1000, maxBytes: 1 << 20, maxPayloadBytes: 1024, maxTotalBytes: 1000)
            let nodes = [try database.store(nodeID: "node-a", mailboxLimits: limits), try database.store(nodeID: "node-b", mailboxLimits: limits)]
            let accepted = Atomic<Int>(0)
            let wrongRefusals = LockedValue<[EnqueueOutcome]>([])
            try await onThreads(4) { index throws(StoreError) in
                let node = nodes[index % nodes.count]
                for round in 0..<30 {
                    let batch = try (0..<2).map { item throws(StoreError) in
                        MailboxEnvelopeDraft(
                            sender: try Self.user("sender\(index)"), recipient: try Self.user("r\(index)x\(round)x\(item)"),
                            payload: [UInt8](repeating: 1, count: 10), acceptedAt: Timestamp(millisecondsSinceEpoch: 1))
                    }
                    for outcome in try node.mailbox.enqueue(batch) {
                        if outcome.acceptedEnvelope != nil { accepted.add(1, ordering: .relaxed) } else if outcome != .refused(.serverFull) {
                            wrongRefusals.withLock { $0.append(outcome) }
                        }
                    }
                }
            }
            #expect(accepted.load(ordering: .relaxed) == 100, "exactly the cap's worth accepted")
            #expect(wrongRefusals.withLock { $0 } == [])
            let cluster = try PostgresCluster.shared()
            let sums = { try cluster.psql("SELECT sum(bytes), sum(allowance) FROM mailbox_totals", database: database.url.database)
                .trimmingCharacters(in: .whitespacesAndNewlines) }
            #expect(try sums() == "1000|1000")
            #expect(try cluster.psql("SELECT sum(size) FROM mailbox", database: database.url.database)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "1000")
            // Room freed on node A is room for node B (through the exact path), 30 bytes of it.
            let full = try cluster.psql("SELECT recipient FROM mailbox ORDER BY recipient LIMIT 3", database: database.url.database)
                .split(separator: "\n").map { try Username(String($0)) }
            for recipient in full { #expect(try nodes[0].mailbox.acknowledge([1], for: recipient) == 1) }
            let draft = MailboxEnvelopeDraft(sender: try Username("zed"), recipient: try Username("zoe"), payload: [UInt8](repeating: 2, count: 10),
                                             acceptedAt: Timestamp(millisecondsSinceEpoch: 2))
            let outcomes = try nodes[1].mailbox.enqueue([draft, draft, draft, draft])
            #expect(outcomes.map { $0.acceptedEnvelope?.id } == [1, 2, 3, nil])
            #expect(outcomes[3] == .refused(.serverFull))
            #expect(try sums() == "1000|1000")
        }
    }

    @Test func aBatchInFlightOnOneNodeDoesNotHoldUpAnotherNodesBatchForOtherRecipients() async throws {
        try await withTestDatabase { database in
            let nodes = [try database.store(nodeID: "node-a"), try database.store(nodeID: "node-b")]
            // Node A's batch from "slowpoke" sleeps inside its INSERT, holding every lock it takes
            // for 5 s; node B's batch for another recipient must not wait for it (with one row of
            // the server-wide total locked by every batch, it did).
            try PostgresCluster.shared().psql(
                """
                CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF NEW.sender = 'slowpoke' THEN PERFORM pg_sleep(5); END IF; RETURN NEW; END $$;
                CREATE TRIGGER slow_insert BEFORE INSERT ON mailbox FOR EACH ROW EXECUTE FUNCTION slow_insert()
                """, database: database.url.database)
            let draft: @Sendable (String, String) throws(StoreError) -> MailboxEnvelopeDraft = { sender, recipient throws(StoreError) in
                MailboxEnvelopeDraft(sender: try Self.user(sender), recipient: try Self.user(recipient), payload: [1], acceptedAt: Timestamp(millisecondsSinceEpoch: 1))
            }
            // Both nodes have shared the cap out once (their first batches go the exact way).
            for (index, node) in nodes.enumerated() { _ = try node.mailbox.enqueue([try draft("alice", "warmup\(index)")]) }
            let slowDone = Atomic<Bool>(false)
            let fastFinishedFirst = Atomic<Bool>(false)
            try await onThreads(2) { index throws(StoreError) in
                if index == 0 {
                    #expect(try nodes[0].mailbox.enqueue([try draft("slowpoke", "bob")]).first?.acceptedEnvelope != nil)
                    slowDone.store(true, ordering: .releasing)
                    return
                }
                // Wait (up to 20 s) until node A's batch is asleep inside its transaction.
                let deadline = Date().addingTimeInterval(20)
                while Date() < deadline {
                    let sleeping = try nodes[1].pool.withSession { session throws(StoreError) in
                        try session.query("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'").first?.value(Int64.self)
                    }
                    if sleeping == 1 { break }
                    Thread.sleep(forTimeInterval: 0.01)
                }
                #expect(try nodes[1].mailbox.enqueue([try draft("alice", "carol")]).first?.acceptedEnvelope != nil)
                fastFinishedFirst.store(!slowDone.load(ordering: .acquiring), ordering: .releasing)
            }
            let finishedFirst = fastFinishedFirst.load(ordering: .acquiring)
            #expect(finishedFirst, "node B's batch committed while node A's was still in flight")
        }
    }

    @Test func twoNodesFetchingBundlesAtOnceNeverShareAOneTimePrekey() async throws {
        try await withTestDatabase { database in
            let nodes = [try database.store(nodeID: "node-a"), try database.store(nodeID: "node-b")]
            let alice = try Username("alice")
            try nodes[0].prekeys.setSignedPrekey(
                SignedPrekey(id: 1, publicKey: try X25519PublicKey(bytes: [UInt8](repeating: 7, count: 32)),
                             signature: try Ed25519Signature(bytes: [UInt8](repeating: 8, count: 64))), for: alice)
            let pool = try (1...200).map { id in
                OneTimePrekey(id: UInt32(id), publicKey: try X25519PublicKey(bytes: [UInt8](repeating: UInt8(id), count: 32)))
            }
            try nodes[1].prekeys.addOneTimePrekeys(pool, for: alice)
            let taken = LockedValue<[UInt32]>([])
            let empty = Atomic<Int>(0)
            try await onThreads(4) { index throws(StoreError) in
                for _ in 0..<75 {
                    guard let bundle = try nodes[index % 2].prekeys.takePrekeys(for: alice) else {
                        Issue.record("the signed prekey vanished")
                        return
                    }
                    if let oneTime = bundle.oneTimePrekey { taken.withLock { $0.append(oneTime.id) } } else { empty.add(1, ordering: .relaxed) }
                }
            }
            let ids = taken.withLock { $0 }
            #expect(ids.count == 200 && Set(ids).count == 200, "every one-time prekey handed out exactly once")
            #expect(empty.load(ordering: .relaxed) == 100)
            #expect(try nodes[0].prekeys.oneTimePrekeyCount(for: alice) == 0)
        }
    }

    @Test func twoNodesTakingMLKEMPrekeysAtOnceNeverShareAOneTimeOne() async throws {
        try await withTestDatabase { database in
            let nodes = [try database.store(nodeID: "node-a"), try database.store(nodeID: "node-b")]
            let alice = try Username("alice")
            func kemPrekey(_ id: UInt32) throws -> KEMPrekey {
                KEMPrekey(id: id, publicKey: try MLKEMPublicKey(bytes: [UInt8](repeating: UInt8(truncatingIfNeeded: id), count: MLKEMPublicKey.byteCount)),
                          signature: try Ed25519Signature(bytes: [UInt8](repeating: 8, count: 64)))
            }
            try nodes[0].prekeys.setLastResortKEMPrekey(try kemPrekey(1000), for: alice)
            try nodes[1].prekeys.addOneTimeKEMPrekeys(try (1...200).map { id in try kemPrekey(UInt32(id)) }, for: alice)
            let taken = LockedValue<[UInt32]>([])
            let lastResort = Atomic<Int>(0)
            try await onThreads(4) { index throws(StoreError) in
                for _ in 0..<75 {
                    guard let bundled = try nodes[index % 2].prekeys.takeKEMPrekey(for: alice, allowOneTime: true) else {
                        Issue.record("the last-resort ML-KEM prekey vanished")
                        return
                    }
                    if bundled.isLastResort {
                        #expect(bundled.prekey.id == 1000)
                        lastResort.add(1, ordering: .relaxed)
                    } else {
                        taken.withLock { $0.append(bundled.prekey.id) }
                    }
                }
            }
            let ids = taken.withLock { $0 }
            #expect(ids.count == 200 && Set(ids).count == 200, "every one-time ML-KEM prekey handed out exactly once")
            #expect(lastResort.load(ordering: .relaxed) == 100)
            #expect(try nodes[0].prekeys.kemPrekeyStatus(for: alice, limit: 10) == ([], 1000))
        }
    }

    @Test func aVersion1DatabaseGainsTheMLKEMPrekeysTableAndKeepsItsRows() async throws {
        try await withTestDatabase { database in
            let alice = try Username("alice")
            let signed = SignedPrekey(
                id: 1, publicKey: try X25519PublicKey(bytes: [UInt8](repeating: 7, count: 32)),
                signature: try Ed25519Signature(bytes: [UInt8](repeating: 8, count: 64)))
            try database.store(nodeID: "node-a").prekeys.setSignedPrekey(signed, for: alice)
            // Back to what a build before issue 14 left: schema version 1, no kem_prekeys (and none
            // of the later steps).
            let cluster = try PostgresCluster.shared()
            try cluster.psql("""
                DROP TABLE kem_prekeys; DROP TABLE session_owners; CREATE SEQUENCE mailbox_ids AS bigint MINVALUE 1;
                DROP TABLE mailbox_totals;
                CREATE TABLE mailbox_total (slot integer PRIMARY KEY CHECK (slot = 1), bytes bigint NOT NULL);
                INSERT INTO mailbox_total (slot, bytes) VALUES (1, 0);
                DELETE FROM parley_schema WHERE version >= 2
                """, database: database.url.database)
            let upgraded = try database.store(nodeID: "node-b")
            #expect(try upgraded.schemaVersion() == PostgresServerStore.latestSchemaVersion)
            #expect(try upgraded.prekeys.signedPrekey(for: alice) == signed)
            #expect(try upgraded.prekeys.kemPrekeyStatus(for: alice, limit: 10) == ([], nil))
            let kem = KEMPrekey(
                id: 5, publicKey: try MLKEMPublicKey(bytes: [UInt8](repeating: 5, count: MLKEMPublicKey.byteCount)),
                signature: try Ed25519Signature(bytes: [UInt8](repeating: 6, count: 64)))
            try upgraded.prekeys.setLastResortKEMPrekey(kem, for: alice)
            #expect(try upgraded.prekeys.takeKEMPrekey(for: alice, allowOneTime: true) == BundledKEMPrekey(kem, isLastResort: true))
        }
    }

    @Test func aSendOnOneNodeRacingTheRecipientsDeletionOnAnotherLeavesNoEnvelopeBehind() async throws {
        try await withTestDatabase { database in
            let sender = try database.store(nodeID: "node-a")
            let deleter = try database.store(nodeID: "node-b")
            let alice = try Username("alice")
            for round in 0..<20 {
                let bob = try Username("bob\(round)")
                let identity = try Ed25519PublicKey(bytes: [UInt8](repeating: UInt8(round + 1), count: 32))
                try sender.accounts.create(AccountRecord(
                    username: bob, passwordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", identityKey: identity,
                    identitySignature: nil, createdAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000), failedLoginCount: 0, lockedUntil: nil))
                let draft = MailboxEnvelopeDraft(
                    sender: alice, recipient: bob, recipientIdentity: identity, payload: [1, 2, 3],
                    acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))
                try await onThreads(2) { index throws(StoreError) in
                    if index == 0 {
                        for _ in 0..<5 {
                            let outcome = try sender.mailbox.enqueue([draft])
                            if case .refused(let refusal) = outcome.first { #expect(refusal == .unknownRecipient) }
                        }
                    } else {
                        #expect(try deleter.accountDeletion.deleteAccount(bob))
                    }
                }
                // Accepted before the deletion: deleted with the account; after it: refused.
                #expect(try sender.mailbox.usage(for: bob) == .empty, "round \(round)")
            }
        }
    }

    @Test func nodesMigrateOnceAndRefuseASchemaNewerThanTheyKnow() async throws {
        try await withTestDatabase { database in
            let first = try database.store(nodeID: "node-a")
            let second = try database.store(nodeID: "node-b")
            #expect(try first.schemaVersion() == PostgresServerStore.latestSchemaVersion)
            #expect(try second.schemaVersion() == PostgresServerStore.latestSchemaVersion)
            let cluster = try PostgresCluster.shared()
            #expect(try cluster.psql("SELECT count(*) FROM parley_schema", database: database.url.database)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "\(PostgresServerStore.latestSchemaVersion)")
            try cluster.psql("INSERT INTO parley_schema (version, summary) VALUES (\(PostgresServerStore.latestSchemaVersion + 1), 'from the future')",
                             database: database.url.database)
            do throws(StoreError) {
                _ = try database.store(nodeID: "node-c")
                Issue.record("a node started on a schema newer than it knows")
            } catch {
                guard case .unavailable(let message) = error else { Issue.record("wrong error \(error)"); return }
                #expect(message.contains("newer than this parley-server knows"))
            }
        }
    }

    @Test func everyConnectionCommitsSynchronously() async throws {
        try await withTestDatabase { database in
            let store = try database.store()
            let setting = try store.pool.withSession { session throws(StoreError) in
                try session.query("SHOW synchronous_commit").first?.value(String.self)
            }
            #expect(setting == "on")
        }
    }

    @Test func anUnreachableDatabaseIsStorageUnavailable() throws {
        // A port nothing listens on (the cluster's, plus one, is as good as any free one).
        let cluster = try PostgresCluster.shared()
        let url = PostgresDatabaseURL(host: "127.0.0.1", port: cluster.port == 65535 ? 1 : cluster.port + 1, username: "parley", database: "none")
        do throws(StoreError) {
            _ = try PostgresServerStore(url: url)
            Issue.record("opened a store on a closed port")
        } catch {
            guard case .unavailable(let message) = error else { Issue.record("wrong error \(error)"); return }
            #expect(message.contains("storage unavailable"))
        }
    }

    @Test func aLostConnectionIsStorageUnavailableAndTheNextCallReconnects() async throws {
        try await withTestDatabase { database in
            let store = try database.store()
            let bob = try Username("bob")
            let draft = MailboxEnvelopeDraft(sender: try Username("alice"), recipient: bob, payload: [1], acceptedAt: Timestamp(millisecondsSinceEpoch: 1))
            _ = try store.mailbox.enqueue([draft])
            try PostgresCluster.shared().psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database.url.database)' AND pid <> pg_backend_pid()")
            // The pooled connection is dead: the call fails as unavailable (never "accepted"), or
            // succeeds on a fresh connection when the pool noticed first.
            do throws(StoreError) {
                let outcomes = try store.mailbox.enqueue([draft])
                #expect(outcomes.count == 1)
            } catch {
                guard case .unavailable(let message) = error else { Issue.record("wrong error \(error)"); return }
                #expect(message.contains("storage unavailable"))
            }
            #expect(try store.mailbox.enqueue([draft]).count == 1)
            let stored = try store.mailbox.usage(for: bob).count
            #expect(stored == 2 || stored == 3)
        }
    }

    @Test(arguments: [
        ("postgresql://parley@127.0.0.1:5433/parley", PostgresDatabaseURL(host: "127.0.0.1", port: 5433, username: "parley", database: "parley")),
        ("postgres://u:p%40ss@db.example:6000/mail", PostgresDatabaseURL(host: "db.example", port: 6000, username: "u", password: "p@ss", database: "mail")),
        ("postgresql://me@localhost/x", PostgresDatabaseURL(host: "localhost", username: "me", database: "x")),
    ])
    func databaseURLsParse(_ text: String, _ expected: PostgresDatabaseURL) throws {
        #expect(try PostgresDatabaseURL(parsing: text) == expected)
    }

    @Test(arguments: ["mysql://a@b/c", "postgresql://host/db", "postgresql://a@b:99999/c", "postgresql://a@b:5432/", "postgresql://a@b/c?sslmode=require"])
    func malformedDatabaseURLsAreRefused(_ text: String) {
        #expect(throws: StoreError.self) { try PostgresDatabaseURL(parsing: text) }
    }

    @Test func aDatabaseURLPrintsWithoutItsPassword() throws {
        #expect(try PostgresDatabaseURL(parsing: "postgresql://u:secret@h:1/d").description == "postgresql://u:***@h:1/d")
    }

    static func user(_ name: String) throws(StoreError) -> Username {
        do { return try Username(name) } catch { throw .corrupt("\(error)") }
    }
}

/// Runs `body(0..<count)` on `count` threads of their own (blocking store calls must not occupy
/// Swift's few cooperative threads), and `whenWritersFinish` once all but the last have returned.
func onThreads(
    _ count: Int, _ body: @escaping @Sendable (Int) throws(StoreError) -> Void, whenWritersFinish: @escaping @Sendable () -> Void = {}
) async throws {
    let failures = LockedValue<[StoreError]>([])
    let writers = DispatchGroup()
    let all = DispatchGroup()
    for index in 0..<count {
        let isWriter = index < count - 1 || count == 1
        if isWriter { writers.enter() }
        all.enter()
        Thread.detachNewThread {
            do throws(StoreError) { try body(index) } catch { failures.withLock { $0.append(error) } }
            if isWriter { writers.leave() }
            all.leave()
        }
    }
    writers.notify(queue: .global()) { whenWritersFinish() }
    await withCheckedContinuation { continuation in all.notify(queue: .global()) { continuation.resume() } }
    if let failure = failures.withLock({ $0.first }) { throw failure }
}

extension EnqueueOutcome {
    /// The stored envelope, or nil when refused.
    var acceptedEnvelope: MailboxEnvelope? {
        if case .accepted(let envelope) = self { envelope } else { nil }
    }
}
