import Primitives
import ServerCore
import Testing

/// The recipient checks a ``MailboxStore`` makes inside its batch transaction for drafts that
/// name the recipient's identity key: the recipient must exist with that key and must not block
/// the sender. Each failure is a refusal of that draft only, like a cap. Run over all the server
/// stores on one backing store (the factory of ``AccountDeletionStoreContract``), because the
/// check reads what the account and block stores wrote.
public enum MailboxRecipientContract {
    public static let checks: [ContractCheck<AccountDeletionStoreFactory>] = [
        ContractCheck("a draft for a known recipient with the right identity key is accepted") { make in
            let stores = try make()
            let bob = try AccountStoreContract.record("bob")
            try stores.accounts.create(bob)
            let outcomes = try stores.mailbox.commit(enqueue: [try draft("alice", to: bob.username, identity: bob.identityKey)], acknowledge: [])
            #expect(outcomes.count == 1)
            #expect(outcomes.first?.accepted != nil)
        },
        ContractCheck("an unknown recipient, a changed identity key and a block each refuse only their own draft") { make in
            let stores = try make()
            let bob = try AccountStoreContract.record("bob")
            let carol = try AccountStoreContract.record("carol")
            try stores.accounts.create(bob)
            try stores.accounts.create(carol)
            try stores.blocks.block(try user("mallory"), by: carol.username)
            let outcomes = try stores.mailbox.commit(enqueue: [
                try draft("alice", to: try user("nobody"), identity: bob.identityKey),
                try draft("alice", to: bob.username, identity: carol.identityKey),
                try draft("mallory", to: carol.username, identity: carol.identityKey),
                try draft("alice", to: carol.username, identity: carol.identityKey),
                try draft("alice", to: bob.username, identity: bob.identityKey),
            ], acknowledge: [])
            #expect(outcomes.count == 5)
            #expect(outcomes[0] == .refused(.unknownRecipient))
            #expect(outcomes[1] == .refused(.recipientIdentityChanged))
            #expect(outcomes[2] == .refused(.blockedByRecipient))
            #expect(outcomes[3].accepted != nil)
            #expect(outcomes[4].accepted != nil)
            #expect(try stores.mailbox.usage(for: carol.username) == MailboxUsage(count: 1, bytes: 3))
            #expect(try stores.mailbox.usage(for: bob.username) == MailboxUsage(count: 1, bytes: 3))
            #expect(try stores.mailbox.usage(for: user("nobody")) == .empty)
        },
        ContractCheck("the check sees the stores as they are at the batch: a deleted account, an unblock, a block") { make in
            let stores = try make()
            let bob = try AccountStoreContract.record("bob")
            try stores.accounts.create(bob)
            try stores.blocks.block(try user("alice"), by: bob.username)
            #expect(try stores.mailbox.enqueue([try draft("alice", to: bob.username, identity: bob.identityKey)]) == [.refused(.blockedByRecipient)])
            try stores.blocks.unblock(try user("alice"), by: bob.username)
            #expect(try stores.mailbox.enqueue([try draft("alice", to: bob.username, identity: bob.identityKey)]).first?.accepted != nil)
            #expect(try stores.deletion.deleteAccount(bob.username))
            #expect(try stores.mailbox.enqueue([try draft("alice", to: bob.username, identity: bob.identityKey)]) == [.refused(.unknownRecipient)])
            // Registered again with a new identity key: the old key is refused, the new one accepted.
            let again = try AccountStoreContract.record("bob", identityKey: identityKey(99))
            try stores.accounts.create(again)
            #expect(try stores.mailbox.enqueue([try draft("alice", to: bob.username, identity: bob.identityKey)]) == [.refused(.recipientIdentityChanged)])
            #expect(try stores.mailbox.enqueue([try draft("alice", to: bob.username, identity: again.identityKey)]).first?.accepted != nil)
        },
    ]

    static func draft(_ sender: String, to recipient: Username, identity: Ed25519PublicKey) throws -> MailboxEnvelopeDraft {
        MailboxEnvelopeDraft(
            sender: try user(sender), recipient: recipient, recipientIdentity: identity, payload: [1, 2, 3],
            acceptedAt: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000))
    }
}
