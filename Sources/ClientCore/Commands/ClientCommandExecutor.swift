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
        case .images(let peer, let save, let number):
            let entries = try await client.images(with: peer)
            if let number { _ = try Self.image(number, of: entries, peer: peer) }
            var listed: [ListedImage] = []
            for (index, entry) in entries.enumerated() where number == nil || number == index + 1 {
                let path = save ? try await client.saveImage(entry) : nil
                listed.append(ListedImage(number: index + 1, entry: entry, savedPath: path))
            }
            return .images(peer: peer, listed)
        case .viewImage(let peer, let number):
            let entry = try Self.image(number, of: try await client.images(with: peer), peer: peer)
            return .image(peer: peer, number: number, entry: entry, png: try await client.imagePNG(of: entry))
        case .saveImagesSetting(let enabled):
            if let enabled { try await client.setSavesReceivedImages(enabled) }
            return .saveImagesSetting(try await client.savesReceivedImages())
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

    /// Image `number` (1-based) of `entries`.
    /// - Throws: ``ClientError/invalidMessage(_:)`` when there is no such image.
    static func image(_ number: Int, of entries: [HistoryEntry], peer: Username) throws(ClientError) -> HistoryEntry {
        guard number >= 1, number <= entries.count else {
            throw .invalidMessage(
                entries.isEmpty ? "there are no images with \(peer)" : "there are \(entries.count) image(s) with \(peer); choose 1...\(entries.count)")
        }
        return entries[number - 1]
    }
}
