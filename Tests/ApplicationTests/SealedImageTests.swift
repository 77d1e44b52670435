import ClientCore
import Conversations
import Envelope
import Foundation
import InMemoryStore
import PNGImages
import Primitives
import Testing

/// Images in history are kept sealed (security review, finding 3): no plain PNG, no peer name
/// and no time on disk until the person saves one; `/view` opens them in memory; a tampered or
/// swapped file is refused; saving (by hand or with the setting) writes the dated clear file.
@Suite("Images are sealed at rest", .shutsDownConnections)
struct SealedImageTests {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    /// Alice and Bob registered, Bob has accepted Alice; both connected.
    private func friends(_ world: TestWorld, blobsOnDisk: Bool = false) async throws -> (alice: Connected, bob: Connected, aliceDevice: Device, bobDevice: Device) {
        let aliceDevice = try world.device("alice", blobsOnDisk: blobsOnDisk)
        let bobDevice = try world.device("bob", blobsOnDisk: blobsOnDisk)
        let alice = try world.connect(aliceDevice)
        let bob = try world.connect(bobDevice)
        try await alice.client.register(username: name("alice"), password: password())
        try await bob.client.register(username: name("bob"), password: password())
        _ = try await alice.client.send(text: "hello", to: name("bob"))
        try await bob.waitFor("hello") { $0.messageText == "hello" }
        try await bob.client.accept(name("alice"))
        return (alice, bob, aliceDevice, bobDevice)
    }

    /// Sends an image from `from` to `to` and waits until `to` has it; returns both entries.
    private func sendImage(_ from: Connected, _ to: Connected, to peer: String, count: Int = 1) async throws -> (sent: HistoryEntry, received: HistoryEntry) {
        let sent = try await from.client.send(image: PNGSample.bytes, fileName: "red.png", to: name(peer))
        let event = try await to.waitFor("image \(sent.id.hex)") { event in
            if case .message(let entry) = event { return entry.id == sent.id }
            return false
        }
        guard case .message(let received) = event else { throw WaitTimeout(description: "no entry", seen: []) }
        return (sent, received)
    }

    /// Every regular file below `folder`, with its path relative to it.
    private func files(below folder: URL) -> [(relative: String, bytes: [UInt8])] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var found: [(String, [UInt8])] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let relative = String(url.standardizedFileURL.path.dropFirst(folder.standardizedFileURL.path.count))
            found.append((relative, [UInt8]((try? Data(contentsOf: url)) ?? Data())))
        }
        return found
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// Whether `blob` holds any 8-byte run of `plain` (the image in clear, or a piece of it).
    private func leaks(_ plain: [UInt8], into blob: [UInt8]) -> Bool {
        stride(from: 0, to: max(0, plain.count - 8), by: 4).contains { contains(blob, Array(plain[$0..<($0 + 8)])) }
    }

    @Test("a received and a sent image are stored sealed: opaque names, no PNG bytes, no peer name, nothing in the clear library")
    func receivedAndSentImagesAreSealed() async throws {
        let world = try TestWorld()
        let (alice, bob, _, _) = try await friends(world, blobsOnDisk: true)
        let (sent, received) = try await sendImage(alice, bob, to: "bob")
        let plain = try await bob.client.imagePNG(of: received)
        #expect(Array(plain.prefix(8)) == Self.pngSignature)
        #expect(try await alice.client.imagePNG(of: sent) == plain)

        for (user, peer) in [("bob", "alice"), ("alice", "bob")] {
            let stored = files(below: world.imageFolder(user))
            #expect(stored.count == 1, "\(user): \(stored.map(\.relative))")
            for file in stored {
                let parts = file.relative.split(separator: "/").map(String.init)
                #expect(parts.count == 2 && parts[0] == "blobs", "\(user): \(file.relative)")
                #expect(parts.last.flatMap(ImageBlobID.init(hex:)) != nil, "not an opaque random name: \(file.relative)")
                #expect(!file.relative.contains(peer) && !file.relative.contains(received.id.hex.prefix(8)), "\(file.relative)")
                #expect(!contains(file.bytes, Self.pngSignature), "\(user): a PNG signature in \(file.relative)")
                #expect(!leaks(plain, into: file.bytes), "\(user): image bytes in clear in \(file.relative)")
                let mode = try FileManager.default.attributesOfItem(atPath: world.imageFolder(user).path + file.relative)[.posixPermissions] as? Int
                #expect(mode == 0o600)
            }
            let folderMode = try FileManager.default.attributesOfItem(atPath: world.imageFolder(user).appendingPathComponent("blobs").path)[.posixPermissions] as? Int
            #expect(folderMode == 0o700)
            #expect(!FileManager.default.fileExists(atPath: world.imageFolder(user).appendingPathComponent("images").path))
        }
        // The history entry is what holds the key: without it the blob is noise.
        guard case .image(let reference, let width, let height) = received.body else { Issue.record("not an image"); return }
        #expect((width, height) == (2, 2))
        #expect(reference.description.contains("redacted"))
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("a blob that is damaged or swapped with another image's is refused as corrupt; a missing one as not found")
    func tamperedOrSwappedBlobsAreRefused() async throws {
        let world = try TestWorld()
        let (alice, bob, _, bobDevice) = try await friends(world)
        let first = try await sendImage(alice, bob, to: "bob").received
        let second = try await sendImage(alice, bob, to: "bob").received
        guard case .image(let a, _, _) = first.body, case .image(let b, _, _) = second.body else { Issue.record("not images"); return }
        let blobs = bobDevice.memory.imageBlobs
        let original = blobs.blobs
        #expect(original.count == 2)

        func expectCorrupt(_ entry: HistoryEntry, _ what: String) async {
            do {
                _ = try await bob.client.imagePNG(of: entry)
                Issue.record("\(what): opened")
            } catch {
                guard case .storage(.corrupt(let detail)) = error else { Issue.record("\(what): \(error)"); return }
                #expect(detail.contains("tampered"), "\(detail)")
            }
        }
        var flipped = original
        flipped[a.blobID]![40] ^= 0x01
        blobs.blobs = flipped
        await expectCorrupt(first, "a flipped bit")
        #expect(try await bob.client.imagePNG(of: second).count > 0)

        var swapped = original
        (swapped[a.blobID], swapped[b.blobID]) = (original[b.blobID], original[a.blobID])
        blobs.blobs = swapped
        await expectCorrupt(first, "the other image's blob")
        await expectCorrupt(second, "the other image's blob")

        blobs.blobs = [:]
        await #expect(throws: ClientError.storage(.notFound(a.blobID.hex))) { try await bob.client.imagePNG(of: first) }
        blobs.blobs = original
        #expect(try await bob.client.imagePNG(of: first).count > 0)
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("saving an image writes it in clear to images/<peer>/<YYYY-MM-DD>/, once")
    func savingWritesTheClearFileInTheDatedFolder() async throws {
        let world = try TestWorld()
        let (alice, bob, _, bobDevice) = try await friends(world)
        let received = try await sendImage(alice, bob, to: "bob").received
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let date = formatter.string(from: Date(timeIntervalSince1970: Double(received.receivedAt.millisecondsSinceEpoch) / 1000))

        let path = try await bob.client.saveImage(received)
        let folder = world.imageFolder("bob").appendingPathComponent("images/alice/\(date)").standardizedFileURL.path
        #expect(path.hasPrefix(folder + "/") && path.hasSuffix("-\(received.id.hex.prefix(8)).png"), "\(path)")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == (try await bob.client.imagePNG(of: received)))
        #expect(try await bob.client.saveImage(received) == path)
        #expect(try bobDevice.stores.images.images(from: name("alice")) == [path])
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("through the command model: images lists them sealed (no path), save writes only the chosen one, view opens it in memory, the setting reads and changes")
    func imageCommands() async throws {
        let world = try TestWorld()
        let (alice, bob, _, bobDevice) = try await friends(world)
        let first = try await sendImage(alice, bob, to: "bob").received
        let second = try await sendImage(alice, bob, to: "bob").received
        let executor = ClientCommandExecutor(client: bob.client)

        let listed = try await executor.execute(.images(name("alice")))
        #expect(listed == .images(peer: name("alice"), [
            ListedImage(number: 1, entry: first, savedPath: nil), ListedImage(number: 2, entry: second, savedPath: nil),
        ]))
        #expect(try bobDevice.stores.images.images(from: name("alice")) == [])

        guard case .images(_, let saved) = try await executor.execute(.images(name("alice"), save: true, number: 2)),
            let path = saved.first?.savedPath
        else {
            Issue.record("images --save --number 2 did not answer with the saved image")
            return
        }
        #expect(saved.map(\.number) == [2] && saved.first?.entry == second)
        #expect(try bobDevice.stores.images.images(from: name("alice")) == [path])

        let viewed = try await executor.execute(.viewImage(name("alice"), number: 1))
        #expect(viewed == .image(peer: name("alice"), number: 1, entry: first, png: try await bob.client.imagePNG(of: first)))
        #expect(try bobDevice.stores.images.images(from: name("alice")) == [path], "viewing wrote nothing")
        await #expect(throws: ClientError.invalidMessage("there are 2 image(s) with alice; choose 1...2")) {
            try await executor.execute(.viewImage(name("alice"), number: 3))
        }
        await #expect(throws: ClientError.invalidMessage("there are 2 image(s) with alice; choose 1...2")) {
            try await executor.execute(.images(name("alice"), save: true, number: 3))
        }

        #expect(try await executor.execute(.saveImagesSetting(nil)) == .saveImagesSetting(false))
        #expect(try await executor.execute(.saveImagesSetting(true)) == .saveImagesSetting(true))
        #expect(try await bob.client.savesReceivedImages())
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("save-images is off by default; turned on, every image received from then on is saved in clear too")
    func saveImagesSetting() async throws {
        let world = try TestWorld()
        let (alice, bob, aliceDevice, bobDevice) = try await friends(world)
        #expect(try await bob.client.savesReceivedImages() == false)
        _ = try await sendImage(alice, bob, to: "bob")
        #expect(try bobDevice.stores.images.images(from: name("alice")) == [])

        try await bob.client.setSavesReceivedImages(true)
        #expect(try await bob.client.savesReceivedImages())
        let second = try await sendImage(alice, bob, to: "bob").received
        let saved = try bobDevice.stores.images.images(from: name("alice"))
        #expect(saved.count == 1 && saved[0].hasSuffix("-\(second.id.hex.prefix(8)).png"), "\(saved)")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: saved[0]))) == (try await bob.client.imagePNG(of: second)))
        // Our own sent images are not written in clear by the setting.
        #expect(try aliceDevice.stores.images.images(from: name("bob")) == [])
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("deleting a conversation deletes its sealed images; the clear copies go only when asked")
    func deletingHistoryDeletesTheBlobs() async throws {
        let world = try TestWorld()
        let (alice, bob, _, bobDevice) = try await friends(world)
        let received = try await sendImage(alice, bob, to: "bob").received
        let path = try await bob.client.saveImage(received)
        #expect(bobDevice.memory.imageBlobs.blobs.count == 1)
        #expect(try await bob.client.deleteHistory(with: name("alice"), includingImages: false) == 0)
        #expect(bobDevice.memory.imageBlobs.blobs.isEmpty)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try await bob.client.deleteHistory(with: name("alice"), includingImages: true) == 1)
        #expect(!FileManager.default.fileExists(atPath: path))
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("an image's file key never shows in a description or dump of its history entry")
    func fileKeysAreRedacted() throws {
        let keyBytes = [UInt8](repeating: 0xC7, count: SymmetricKey.byteCount)
        let reference = SealedImageReference(
            blobID: try ImageBlobID(bytes: [UInt8](repeating: 0x11, count: ImageBlobID.byteCount)), fileKey: try SymmetricKey(SecretBytes(copying: keyBytes)))
        let entry = HistoryEntry(
            id: try MessageID(bytes: [UInt8](repeating: 0x22, count: MessageID.byteCount)), peer: name("alice"), direction: .received,
            body: .image(reference, width: 1, height: 1), sentAt: Timestamp(millisecondsSinceEpoch: 1), receivedAt: Timestamp(millisecondsSinceEpoch: 2),
            status: .delivered, isRequest: false)
        var dumped = ""
        dump(entry, to: &dumped)
        for text in ["\(entry)", String(reflecting: entry), dumped, "\(reference)"] {
            #expect(!text.lowercased().contains("c7c7c7c7") && !text.contains("199, 199"), "\(text)")
        }
    }
}
