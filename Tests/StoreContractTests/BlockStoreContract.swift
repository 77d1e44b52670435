import Primitives
import ServerCore
import Testing

/// Makes a fresh, empty ``BlockStore``.
public typealias BlockStoreFactory = @Sendable () throws -> any BlockStore

/// The behaviour every ``BlockStore`` adapter must have.
public enum BlockStoreContract {
    public static let checks: [ContractCheck<BlockStoreFactory>] = [
        ContractCheck("a block is one-way") { make in
            let store = try make()
            let (alice, mallory) = (try user("alice"), try user("mallory"))
            #expect(try store.isBlocked(sender: mallory, by: alice) == false)
            try store.block(mallory, by: alice)
            #expect(try store.isBlocked(sender: mallory, by: alice))
            #expect(try store.isBlocked(sender: alice, by: mallory) == false)
        },
        ContractCheck("blocking twice is blocking once; the list is sorted") { make in
            let store = try make()
            let alice = try user("alice")
            for name in ["zed", "mallory", "eve", "mallory"] { try store.block(user(name), by: alice) }
            #expect(try store.blocked(by: alice) == [user("eve"), user("mallory"), user("zed")])
            #expect(try store.blocked(by: user("bob")) == [])
        },
        ContractCheck("unblocking removes only that block, and is a no-op when absent") { make in
            let store = try make()
            let (alice, eve, mallory) = (try user("alice"), try user("eve"), try user("mallory"))
            try store.block(eve, by: alice)
            try store.block(mallory, by: alice)
            try store.unblock(mallory, by: alice)
            try store.unblock(mallory, by: alice)
            try store.unblock(alice, by: user("nobody"))
            #expect(try store.isBlocked(sender: mallory, by: alice) == false)
            #expect(try store.blocked(by: alice) == [eve])
        },
        ContractCheck("removeAll clears blocks by and against the user, and no others") { make in
            let store = try make()
            let (alice, bob, carol, mallory) = (try user("alice"), try user("bob"), try user("carol"), try user("mallory"))
            try store.block(bob, by: mallory)
            try store.block(mallory, by: alice)
            try store.block(mallory, by: bob)
            try store.block(carol, by: bob)
            try store.removeAll(for: mallory)
            #expect(try store.blocked(by: mallory) == [])
            #expect(try store.isBlocked(sender: mallory, by: alice) == false)
            #expect(try store.isBlocked(sender: mallory, by: bob) == false)
            #expect(try store.blocked(by: alice) == [])
            #expect(try store.blocked(by: bob) == [carol])
        },
    ]
}
