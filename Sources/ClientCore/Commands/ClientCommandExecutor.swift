import Conversations
import Envelope
import Primitives

/// Runs a ``ClientCommand`` against a logged-in ``ParleyClient``: the one implementation of every
/// operation the argv, slash-command and JSON-RPC front ends offer.
public struct ClientCommandExecutor: Sendable {
    public let client: ParleyClient

    public init(client: ParleyClient) {
        self.client = client
    }

    /// Runs `command`.
    /// - Throws: the ``ClientError`` of the operation (refused, unreachable, storage...).
    public func execute(_ command: ClientCommand) async throws(ClientError) -> ClientCommandResult {
        switch command {
        case .send(let peer, let text):
            guard !text.isEmpty else { throw .invalidMessage("nothing to send") }
            return .sent(try await client.send(text: text, to: peer))
        case .sendImage(let peer, let png, let fileName):
            return .sent(try await client.send(image: png, fileName: fileName, to: peer))
        case .history(let peer, let limit):
            let bounded = max(1, min(limit, ClientCommand.maxHistoryLimit))
            return .messages(peer: peer, try await client.history(with: peer, limit: bounded))
        case .requests:
            return .requests(try await client.requests().map { MessageRequest(contact: $0.contact, messages: $0.messages) })
        case .contacts:
            return .contacts(try await client.contacts())
        case .accept(let peer):
            try await client.accept(peer)
            return .contactChanged(.accepted, peer)
        case .reject(let peer):
            try await client.reject(peer)
            return .contactChanged(.rejected, peer)
        case .block(let peer):
            try await client.block(peer)
            return .contactChanged(.blocked, peer)
        case .unblock(let peer):
            try await client.unblock(peer)
            return .contactChanged(.unblocked, peer)
        case .safetyNumber(let peer):
            return .safetyNumber(peer: peer, try await client.safetyNumber(with: peer))
        case .verify(let peer):
            try await client.verify(peer)
            return .contactChanged(.verified, peer)
        case .trust(let peer):
            try await client.trust(peer)
            return .contactChanged(.trusted, peer)
        case .images(let peer):
            return .images(peer: peer, try await client.images(with: peer))
        case .markRead(let peer, let ids):
            let chosen: [MessageID]
            if let ids {
                chosen = ids
            } else {
                chosen = try await client.history(with: peer, limit: EnvelopeLimits.maxReceiptIDs)
                    .filter { $0.direction == .received && !$0.isRequest && $0.status != .read }.map(\.id)
            }
            await client.markRead(chosen, from: peer)
            return .markedRead(peer: peer, count: chosen.count)
        case .deleteHistory(let peer, let includingImages):
            let removed = try await client.deleteHistory(with: peer, includingImages: includingImages)
            return .historyDeleted(peer: peer, includingImages: includingImages, imagesRemoved: removed)
        case .version:
            return .version(ParleyVersion.current)
        }
    }
}
