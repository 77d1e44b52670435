import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built `parley` binary's local state over a server's life: the pinned server key, deleting a
/// conversation, deleting the account, and a delivery that comes back after it was read.
@Suite("End to end: local state", .serialized, .timeLimit(.minutes(5)))
struct ClientLifecycleEndToEndTests {
    func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw HarnessError(description: "not a JSON object: \(line)")
            }
            return object
        }
    }

    func makePNG(_ world: World, _ name: String) async throws -> String {
        let png = world.root.appendingPathComponent(name).path
        let made = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Binaries.packageRoot.appendingPathComponent("scripts/make_demo_png.py").path, png])
        guard made.status == 0 else { throw HarnessError(description: "make_demo_png.py failed: \(made)") }
        return png
    }

    @Test("the server key is pinned on first use; a server with another key at the same address is refused with exit 69")
    func serverKeyPinnedOnFirstUse() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("olga")
        let pins = world.home("olga") + "/known_servers"
        let pinned = try String(contentsOfFile: pins, encoding: .utf8)
        #expect(pinned.hasPrefix("127.0.0.1:\(world.server.port) "), "\(pinned)")
        #expect(try await world.parley("olga", ["contacts"]).status == 0)

        // Another server (a fresh data directory, so a fresh static key) takes over the address.
        let port = world.server.port
        #expect(world.server.stop(signal: SIGTERM) == 0)
        let impostor = ServerProcess(dataDirectory: world.root.appendingPathComponent("impostor"))
        try await impostor.start(port: port)
        defer { impostor.stop(signal: SIGKILL) }
        let refused = try await world.parley("olga", ["contacts"])
        #expect(refused.status == 69, "\(refused)")
        #expect(refused.stderr.contains("key"), "\(refused)")
        // The pin is not replaced by the impostor's key, and no password went to it.
        #expect(try String(contentsOfFile: pins, encoding: .utf8) == pinned)
        #expect(!impostor.logText.contains("olga-password-123"))

        // The real server back at the address is accepted again.
        impostor.stop(signal: SIGTERM)
        try await world.server.start(port: port)
        #expect(try await world.parley("olga", ["contacts"]).status == 0)
    }

    /// Runs `images PEER --save --json` as `user` and returns the clear files' paths.
    func saveImages(_ world: World, _ user: String, from peer: String) async throws -> [String] {
        let result = try await world.parley(user, ["--json", "images", peer, "--save"])
        guard result.status == 0 else { throw HarnessError(description: "images --save failed: \(result)") }
        return try jsonLines(result.stdout).compactMap { $0["path"] as? String }
    }

    @Test("delete-history erases the conversation and its sealed images; the images saved in clear stay unless --images")
    func deleteHistoryWithAndWithoutImages() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("pia")
        try await world.register("quinn")
        let png = try await makePNG(world, "picture.png")
        #expect(try await world.parley("pia", ["send", "quinn", "first words"]).status == 0)
        #expect(try await world.parley("pia", ["send-image", "quinn", png]).status == 0)
        let received = try jsonLines(try await world.parley("quinn", ["--json", "receive", "--wait", "5"]).stdout)
        #expect(received.contains { $0["type"] as? String == "image" })
        let firstImage = try #require(try await saveImages(world, "quinn", from: "pia").first)
        #expect(FileManager.default.fileExists(atPath: firstImage))
        let blobs = world.accountFolder("quinn") + "/blobs"
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs).count == 1)

        let refusedWithoutYes = try await world.parley("quinn", ["delete-history", "pia"])
        #expect(refusedWithoutYes.status == 64, "\(refusedWithoutYes)")
        #expect(try jsonLines(try await world.parley("quinn", ["--json", "history", "pia"]).stdout).count == 2)

        let kept = try await world.parley("quinn", ["delete-history", "pia", "--yes"])
        #expect(kept.status == 0, "\(kept)")
        #expect(try jsonLines(try await world.parley("quinn", ["--json", "history", "pia"]).stdout).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs).isEmpty, "the sealed image outlived its conversation")
        #expect(FileManager.default.fileExists(atPath: firstImage), "without --images the image saved in clear stays")

        // A second image arrives and is saved; --images removes every image saved from pia.
        #expect(try await world.parley("pia", ["send-image", "quinn", png]).status == 0)
        #expect(try await world.parley("quinn", ["--json", "receive", "--wait", "5"]).status == 0)
        let secondImage = try #require(try await saveImages(world, "quinn", from: "pia").first)
        let erased = try await world.parley("quinn", ["delete-history", "pia", "--images", "--yes"])
        #expect(erased.status == 0, "\(erased)")
        #expect(erased.stderr.contains("2 saved image(s)") || erased.stdout.contains("2 saved image(s)"), "\(erased)")
        #expect(try jsonLines(try await world.parley("quinn", ["--json", "history", "pia"]).stdout).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: firstImage))
        #expect(!FileManager.default.fileExists(atPath: secondImage))
        #expect(try FileManager.default.contentsOfDirectory(atPath: blobs).isEmpty)
        // Only that conversation: pia's own history with quinn is untouched.
        #expect(try jsonLines(try await world.parley("pia", ["--json", "history", "quinn"]).stdout).count == 3)
    }

    @Test("delete-account --yes erases the account's local data: its folder, database and images are gone")
    func deleteAccountErasesLocalData() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("rosa")
        try await world.register("sam")
        let png = try await makePNG(world, "picture.png")
        #expect(try await world.parley("sam", ["send-image", "rosa", png]).status == 0)
        #expect(try await world.parley("rosa", ["--json", "receive", "--wait", "5"]).status == 0)
        let image = try #require(try await saveImages(world, "rosa", from: "sam").first)
        let accountFolder = world.accountFolder("rosa")
        #expect(FileManager.default.fileExists(atPath: accountFolder + "/parley-client.sqlite"))
        #expect(image.hasPrefix(accountFolder), "\(image)")

        let refused = try await world.parley("rosa", ["delete-account"])
        #expect(refused.status != 0, "\(refused)")
        #expect(FileManager.default.fileExists(atPath: accountFolder + "/parley-client.sqlite"))

        let deleted = try await world.parley("rosa", ["delete-account", "--yes"])
        #expect(deleted.status == 0, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: accountFolder), "the account folder survived")
        #expect(!FileManager.default.fileExists(atPath: image))
        // Nothing of the account is left anywhere in the home but the server pin.
        let left = FileManager.default.enumerator(atPath: world.home("rosa"))?.compactMap { $0 as? String } ?? []
        #expect(left.allSatisfy { !$0.contains("rosa") && !$0.hasSuffix("sqlite") }, "\(left)")
        // And on the server: the name can be registered afresh.
        try await world.register("rosa")
    }

    @Test("an envelope delivered again after it was read and acknowledged is shown once")
    func redeliveredEnvelopeShownOnce() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("tara")
        try await world.register("uma")
        #expect(try await world.parley("tara", ["send", "uma", "just the once"]).status == 0)

        // A snapshot of the server's data while the envelope waits for uma.
        let port = world.server.port
        #expect(world.server.stop(signal: SIGTERM) == 0)
        let snapshot = world.root.appendingPathComponent("server-snapshot")
        try FileManager.default.copyItem(at: world.server.dataDirectory, to: snapshot)
        try await world.server.start(port: port)
        let first = try jsonLines(try await world.parley("uma", ["--json", "receive", "--wait", "5"]).stdout)
        #expect(first.map { $0["text"] as? String } == ["just the once"])

        // The server loses the acknowledgement (its data rolled back to the snapshot): the same
        // envelope is delivered again to a client that has already decrypted and stored it.
        #expect(world.server.stop(signal: SIGTERM) == 0)
        try FileManager.default.removeItem(at: world.server.dataDirectory)
        try FileManager.default.copyItem(at: snapshot, to: world.server.dataDirectory)
        try await world.server.start(port: port)
        let second = try await world.parley("uma", ["--json", "receive", "--wait", "2"])
        #expect(second.status == 0, "\(second)")
        #expect(try jsonLines(second.stdout).isEmpty, "shown again: \(second)")
        #expect(!second.stderr.contains("could not"), "\(second)")
        let history = try jsonLines(try await world.parley("uma", ["--json", "history", "tara"]).stdout)
        #expect(history.map { $0["text"] as? String } == ["just the once"])
        // It was acknowledged this time: a third receive gets nothing at all from the server.
        #expect(try jsonLines(try await world.parley("uma", ["--json", "receive"]).stdout).isEmpty)
    }
}
