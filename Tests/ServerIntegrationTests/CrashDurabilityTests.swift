import Primitives
import SQLiteStore
import Testing
import WireProtocol

#if canImport(Glibc)
import Glibc
#endif

/// "Accepted" means on disk: the real server is SIGKILLed in the middle of a pipelined stream of
/// sends, restarted on the same data directory with no clean-up, and must deliver every envelope
/// it acknowledged, exactly once.
@Suite("Crash durability of the parley-server executable", .timeLimit(.minutes(2)))
struct CrashDurabilityTests {
    static let envelopeCount = 1000
    static let inFlight = 64
    static let killAfterAccepted = 300

    let environment: IntegrationEnvironment

    init() throws {
        environment = try IntegrationEnvironment()
    }

    @Test("SIGKILL mid-stream: every envelope answered accepted is delivered exactly once after a restart")
    func acceptedEnvelopesSurviveSigkill() async throws {
        let directory = try TemporaryDirectory("sigkill")
        defer { directory.remove() }
        let (alice, bob) = (try environment.account("alice"), try environment.account("bob"))

        let first = try await ServerProcess.start(dataDirectory: directory.path)
        defer { first.forceStop() }
        try await environment.withSession(first) { session async throws in
            #expect(try await session.call(bob.register) == .loggedIn(pending: 0))
        }
        let accepted = Observed<UInt64>()
        let errors = Observed<String>()
        try await environment.withSession(first) { session async throws in
            #expect(try await session.call(alice.register) == .loggedIn(pending: 0))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await accepted.wait(forCount: Self.killAfterAccepted, "\(Self.killAfterAccepted) accepted envelopes", within: .seconds(60))
                    first.send(SIGKILL)
                }
                group.addTask {
                    await Self.sendPipelined(Self.envelopeCount, inFlight: Self.inFlight, over: session, to: bob, accepted: accepted, errors: errors)
                }
                try await group.waitForAll()
            }
        }
        #expect(try await first.waitForExit(within: .seconds(10)) == ProcessExit(exited: false, status: SIGKILL))
        #expect(errors.elements.isEmpty, "error answers before the kill: \(errors.elements.prefix(5))")
        let acceptedCounters = Set(accepted.elements)
        #expect(acceptedCounters.count == accepted.elements.count)
        #expect(acceptedCounters.count >= Self.killAfterAccepted)
        // Not a crash test unless the kill interrupted the stream.
        #expect(acceptedCounters.count < Self.envelopeCount, "the server accepted everything before it was killed")

        let second = try await ServerProcess.start(dataDirectory: directory.path)
        defer { second.forceStop() }
        #expect(second.serverKey == first.serverKey, "the restarted server reuses the key in its data directory")
        try await environment.withSession(second) { session async throws in
            let login = try await session.call(bob.login)
            guard case .loggedIn(let pendingCount) = login else {
                Issue.record("bob could not log in after the restart: \(login)")
                return
            }
            let pending = Int(pendingCount)
            #expect(pending >= acceptedCounters.count)
            let deliveries = try await session.waitForDeliveries(pending, within: .seconds(30))
            // Catch-up pushes all precede the answer to any later request: after this pong, no
            // further copy can be on its way.
            #expect(try await session.call(.ping) == .pong)
            #expect(session.deliveries.count == pending)

            let delivered = deliveries.compactMap { counter(in: $0.envelope) }
            #expect(delivered.count == deliveries.count, "every payload is one of the 8-byte counters")
            #expect(delivered.allSatisfy { $0 < UInt64(Self.envelopeCount) })
            #expect(deliveries.allSatisfy { $0.sender == alice.username })
            #expect(Set(delivered).count == delivered.count, "an envelope was delivered twice")
            #expect(Set(deliveries.map(\.id)).count == deliveries.count, "an envelope id was delivered twice")
            let lost = acceptedCounters.subtracting(delivered)
            #expect(lost.isEmpty, "\(lost.count) accepted envelopes were lost, e.g. \(lost.sorted().prefix(10))")

            #expect(try await session.call(.acknowledge(ids: deliveries.map(\.id))) == .ok)
            let inspector = try DatabaseInspector(path: directory.file(SQLiteServerStore.fileName))
            #expect(try inspector.count("SELECT count(*) FROM mailbox") == 0)
            #expect(try await session.call(.logout) == .ok)
            #expect(try await session.call(bob.login) == .loggedIn(pending: 0))
        }
        try await second.stop(signal: SIGTERM)
    }

    /// Sends `count` envelopes whose payloads are their counters, at most `inFlight` awaiting an
    /// answer at once, all on one connection. Counters answered "accepted" go to `accepted`; error
    /// answers to `errors`; requests that die with the connection are neither.
    static func sendPipelined(
        _ count: Int, inFlight: Int, over session: WireSession, to recipient: TestAccount,
        accepted: Observed<UInt64>, errors: Observed<String>
    ) async {
        await withTaskGroup(of: Void.self) { group in
            for counter in 0..<count {
                if counter >= inFlight { await group.next() }
                group.addTask {
                    guard let answer = try? await session.call(recipient.envelope(counterPayload(UInt64(counter)))) else { return }
                    if acceptedID(answer) != nil {
                        accepted.append(UInt64(counter))
                    } else {
                        errors.append("envelope \(counter): \(answer)")
                    }
                }
            }
        }
    }
}
