import Accounts
import Primitives
@testable import ServerCore
import Testing
import WireProtocol

/// ``RequestHandlers`` on their own: no connection, no session, just the server's stores.
@Suite("Request handlers without a connection")
struct RequestHandlersTests {
    @Test("identity, blocks and refusals are answered from the stores alone")
    func statelessAnswers() async throws {
        let world = try TestWorld()
        let handlers = world.server.requestHandlers
        let bob = name("bob")
        let key = try world.crypto.generateEd25519KeyPair(using: world.random).publicKey
        await #expect(throws: WireError.self) { try await handlers.identity(of: bob) }
        try world.accounts.create(AccountRecord(username: bob, passwordHash: "x", identityKey: key, createdAt: Timestamp(millisecondsSinceEpoch: 0)))
        let answer = try await handlers.identity(of: bob)
        guard case .identity(let published) = answer else {
            Issue.record("identity answered with \(answer)")
            return
        }
        #expect(published.identityKey == key)

        let alice = name("alice")
        #expect(try await handlers.block(alice, by: bob) == .ok)
        #expect(try world.blocks.isBlocked(sender: alice, by: bob))
        #expect(try await handlers.unblock(alice, by: bob) == .ok)
        #expect(try !world.blocks.isBlocked(sender: alice, by: bob))
        #expect(try await handlers.prekeyCount(for: bob) == .prekeyCount(0))

        // A send's refusals keep the codes the send check used to answer with.
        #expect(RequestHandlers.wireError(for: .unknownRecipient, recipient: bob).code == .unknownUser)
        #expect(RequestHandlers.wireError(for: .recipientIdentityChanged, recipient: bob).code == .identityChanged)
        #expect(RequestHandlers.wireError(for: .blockedByRecipient, recipient: bob).code == .refused)
    }
}
