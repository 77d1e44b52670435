import ClientCore
import Foundation
import PNGImages
import Primitives
import Testing

/// The built `parley` and `parley-server` binaries over loopback, used as a person or a script
/// would use them.
@Suite("End to end", .serialized, .timeLimit(.minutes(5)))
struct ClientEndToEndTests {
    /// JSON lines printed by `--json`.
    func jsonLines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw HarnessError(description: "not a JSON object: \(line)")
            }
            return object
        }
    }

    @Test("the demo flow: offline text and image, request, accept, reply, history on both sides, same safety number")
    func demoFlow() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("alice")
        try await world.register("bob")

        var result = try await world.parley("alice", ["send", "bob", "hello", "bob,", "you", "are", "offline"])
        #expect(result.status == 0, "\(result)")
        let png = world.root.appendingPathComponent("picture.png").path
        _ = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Binaries.packageRoot.appendingPathComponent("scripts/make_demo_png.py").path, png])
        result = try await world.parley("alice", ["send-image", "bob", png])
        #expect(result.status == 0, "\(result)")

        result = try await world.parley("bob", ["--json", "receive", "--wait", "5"])
        #expect(result.status == 0, "\(result)")
        let received = try jsonLines(result.stdout)
        #expect(received.count == 2, "\(result)")
        #expect(received.first?["type"] as? String == "text")
        #expect(received.first?["text"] as? String == "hello bob, you are offline")
        #expect(received.first?["from"] as? String == "alice")
        #expect(received.first?["to"] as? String == "bob")
        #expect(received.first?["request"] as? Bool == true)
        #expect(received.last?["type"] as? String == "image")
        // Kept sealed: no file is named until bob saves it.
        #expect(received.last?["path"] == nil)
        for key in ["id", "sent_at", "received_at"] { #expect(received.first?[key] != nil, "missing \(key)") }

        result = try await world.parley("bob", ["requests"])
        #expect(result.stdout.contains("Request from alice"), "\(result)")
        result = try await world.parley("bob", ["accept", "alice"])
        #expect(result.status == 0, "\(result)")
        result = try await world.parley("bob", ["send", "alice", "hi alice!"])
        #expect(result.status == 0, "\(result)")
        result = try await world.parley("alice", ["--json", "receive", "--wait", "5"])
        #expect(try jsonLines(result.stdout).contains { $0["text"] as? String == "hi alice!" }, "\(result)")

        let aliceHistory = try jsonLines(try await world.parley("alice", ["--json", "history", "bob"]).stdout)
        let bobHistory = try jsonLines(try await world.parley("bob", ["--json", "history", "alice"]).stdout)
        #expect(aliceHistory.count == 3 && bobHistory.count == 3)
        #expect(aliceHistory.map { $0["id"] as? String } == bobHistory.map { $0["id"] as? String })

        result = try await world.parley("bob", ["images", "alice"])
        #expect(result.stdout.contains("1. ") && result.stdout.contains("from alice"), "\(result)")
        let aliceNumber = try await world.parley("alice", ["safety-number", "bob"]).stdout
        let bobNumber = try await world.parley("bob", ["safety-number", "alice"]).stdout
        #expect(aliceNumber == bobNumber)
        #expect(aliceNumber.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").count == 12)
        #expect(try await world.parley("bob", ["verify", "alice"]).status == 0)
    }

    @Test("rejecting a request tells the sender and blocks them; blocking refuses further messages")
    func rejectAndBlock() async throws {
        let world = try World()
        try await world.server.start()
        for user in ["bob", "carol", "dave"] { try await world.register(user) }
        #expect(try await world.parley("carol", ["send", "bob", "hi, it's carol"]).status == 0)
        #expect(try await world.parley("bob", ["receive", "--wait", "5"]).stdout.contains("hi, it's carol"))
        #expect(try await world.parley("bob", ["reject", "carol"]).status == 0)
        let declined = try await world.parley("carol", ["receive", "--wait", "3"])
        #expect(declined.stderr.contains("bob declined your message request"), "\(declined)")
        let refused = try await world.parley("carol", ["send", "bob", "again"])
        #expect(refused.status == 65, "\(refused)")
        #expect(refused.stderr.contains("does not accept messages"), "\(refused)")

        #expect(try await world.parley("bob", ["block", "dave"]).status == 0)
        let blocked = try await world.parley("dave", ["send", "bob", "let me in"])
        #expect(blocked.status == 65, "\(blocked)")
        #expect(try await world.parley("bob", ["unblock", "dave"]).status == 0)
        #expect(try await world.parley("dave", ["send", "bob", "thanks"]).status == 0)
    }

    @Test("history survives logout and a server restart; a wrong password is refused with exit 77")
    func historyAfterRestartAndWrongPassword() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("erin")
        try await world.register("frank")
        #expect(try await world.parley("erin", ["send", "frank", "remember this"]).status == 0)
        #expect(try await world.parley("frank", ["receive", "--wait", "5"]).status == 0)
        let firstStop = world.server.stop(signal: SIGTERM)
        #expect(firstStop == 0, "\(world.server.logText)")
        try await world.server.start(port: world.server.port)
        let history = try await world.parley("frank", ["history", "erin"])
        #expect(history.stdout.contains("remember this"), "\(history)")
        let wrong = try await world.parley("frank", ["history", "erin"], password: "not-my-password")
        #expect(wrong.status == 77, "\(wrong)")
        #expect(!wrong.stdout.contains("remember this"))
        // With the server down, the same command says the server is unreachable.
        let secondStop = world.server.stop(signal: SIGTERM)
        #expect(secondStop == 0, "\(world.server.logText)")
        let unreachable = try await world.parley("frank", ["history", "erin"])
        #expect(unreachable.status == 69, "\(unreachable)")
        #expect(unreachable.stderr.contains("cannot reach the server"), "\(unreachable)")
        let usage = try await run(Binaries.parley, ["send"])
        #expect(usage.status == 64, "\(usage)")
    }

    @Test("a contact who re-registers is flagged loudly and sending waits for trust")
    func identityChangeWarning() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("gina")
        try await world.register("hank")
        #expect(try await world.parley("gina", ["send", "hank", "first"]).status == 0)
        #expect(try await world.parley("hank", ["receive", "--wait", "5"]).status == 0)
        let deleted = try await world.parley("hank", ["delete-account", "--yes"])
        #expect(deleted.status == 0, "\(deleted)")
        try await world.register("hank")

        let held = try await world.parley("gina", ["send", "hank", "are you still you?"])
        #expect(held.status == 65, "\(held)")
        #expect(held.stderr.contains("WARNING: hank's identity key has changed"), "\(held)")
        let contacts = try await world.parley("gina", ["contacts"])
        #expect(contacts.stdout.contains("IDENTITY CHANGED"), "\(contacts)")
        #expect(try await world.parley("gina", ["trust", "hank"]).status == 0)
        #expect(try await world.parley("gina", ["send", "hank", "welcome back"]).status == 0)
        let received = try await world.parley("hank", ["receive", "--wait", "5"])
        #expect(received.stdout.contains("welcome back"), "\(received)")
    }

    @Test("images: metadata is stripped and pixels survive; corrupt and oversized files are refused and nothing is sent")
    func images() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("ivy")
        try await world.register("jack")
        let png = world.root.appendingPathComponent("tagged.png").path
        _ = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Binaries.packageRoot.appendingPathComponent("scripts/make_demo_png.py").path, png])
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: png)))
        #expect(String(decoding: original, as: UTF8.self).contains("tEXt"))
        #expect(try await world.parley("ivy", ["send-image", "jack", png]).status == 0)
        #expect(try await world.parley("jack", ["--json", "receive", "--wait", "5"]).status == 0)
        let saving = try await world.parley("jack", ["--json", "images", "ivy", "--save"])
        let saved = try #require(try jsonLines(saving.stdout).first?["path"] as? String, "\(saving)")
        let savedBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: saved)))
        for chunk in ["tEXt", "zTXt", "iTXt", "eXIf", "tIME", "GPS"] {
            #expect(!String(decoding: savedBytes, as: UTF8.self).contains(chunk), "\(chunk) survived")
        }
        let validator = LibPNGImageValidator()
        #expect(try validator.decode(savedBytes) == validator.decode(original))

        let truncated = world.root.appendingPathComponent("truncated.png").path
        FileManager.default.createFile(atPath: truncated, contents: Data(original.prefix(original.count / 2)))
        let corrupt = try await world.parley("ivy", ["send-image", "jack", truncated])
        #expect(corrupt.status == 65, "\(corrupt)")
        #expect(corrupt.stderr.contains("image refused"), "\(corrupt)")
        let huge = world.root.appendingPathComponent("huge.png").path
        FileManager.default.createFile(atPath: huge, contents: Data(original + [UInt8](repeating: 0, count: 10 << 20)))
        let oversized = try await world.parley("ivy", ["send-image", "jack", huge])
        #expect(oversized.status == 65, "\(oversized)")
        let notPNG = world.root.appendingPathComponent("notes.png").path
        FileManager.default.createFile(atPath: notPNG, contents: Data("just text".utf8))
        #expect(try await world.parley("ivy", ["send-image", "jack", notPNG]).status == 65)
        let nothing = try await world.parley("jack", ["--json", "receive"])
        #expect(nothing.status == 0, "\(nothing)")
        #expect(try jsonLines(nothing.stdout).isEmpty, "\(nothing)")
    }

    @Test("images at rest: nothing in the receiver's or sender's home holds the PNG in clear; view decrypts in memory; images --save and save-images write the clear file")
    func imagesAreSealedAtRest() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("mona")
        try await world.register("nils")
        let png = world.root.appendingPathComponent("private.png").path
        _ = try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Binaries.packageRoot.appendingPathComponent("scripts/make_demo_png.py").path, png])
        // What the receiver would store in clear: the sender's re-encoding, without metadata.
        let clear = try LibPNGImageValidator().validate(UntrustedImage(bytes: [UInt8](Data(contentsOf: URL(fileURLWithPath: png))))).png
        #expect(try await world.parley("mona", ["send-image", "nils", png]).status == 0)
        let received = try await world.parley("nils", ["--json", "receive", "--wait", "5"])
        #expect(try jsonLines(received.stdout).first?["type"] as? String == "image", "\(received)")

        // No file of either home holds the image, a piece of it, or a PNG signature; no path
        // names the peer.
        let pieces = [Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])]
            + stride(from: 16, to: clear.count - 16, by: 16).map { Data(clear[$0..<($0 + 16)]) }
        for (user, peer) in [("nils", "mona"), ("mona", "nils")] {
            let home = URL(fileURLWithPath: world.home(user))
            let scanned = try scanForPlaintext(home, pieces)
            #expect(scanned.contains { $0.contains("/blobs/") }, "\(user): no sealed image in \(scanned.sorted())")
            for path in scanned { #expect(!path.dropFirst(home.path.count).contains(peer), "\(user): \(path) names \(peer)") }
        }

        // view: decrypted in memory, shown (a description without a colour terminal).
        let shown = try await world.parley("nils", ["view", "mona", "1"])
        #expect(shown.status == 0, "\(shown)")
        let decoded = try LibPNGImageValidator().decode(clear)
        #expect(shown.stdout.contains("\(decoded.width)x\(decoded.height)"), "\(shown)")
        let json = try jsonLines(try await world.parley("nils", ["--json", "view", "mona", "1"]).stdout)
        #expect(json.first?["width"] as? String == "\(decoded.width)")
        #expect(try scanForPlaintext(URL(fileURLWithPath: world.home("nils")), pieces).allSatisfy { !$0.contains("/images/") })

        // images --save: the clear file in images/<peer>/<YYYY-MM-DD>/.
        let saving = try await world.parley("nils", ["images", "mona", "--save"])
        #expect(saving.status == 0, "\(saving)")
        let account = world.accountFolder("nils")
        let dated = try FileManager.default.contentsOfDirectory(atPath: account + "/images/mona")
        #expect(dated.count == 1 && dated[0].count == 10, "\(dated)")
        let files = try FileManager.default.contentsOfDirectory(atPath: account + "/images/mona/" + dated[0])
        #expect(files.count == 1, "\(files)")
        let savedPath = account + "/images/mona/" + dated[0] + "/" + files[0]
        #expect(saving.stdout.contains(savedPath), "\(saving)")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: savedPath))) == clear)

        // save-images: off until turned on; then every received image is saved in clear too.
        #expect(try await world.parley("nils", ["set", "save-images"]).stdout.contains("off"))
        #expect(try await world.parley("nils", ["set", "save-images", "on"]).status == 0)
        #expect(try await world.parley("mona", ["send-image", "nils", png]).status == 0)
        #expect(try await world.parley("nils", ["receive", "--wait", "5"]).status == 0)
        let allSaved = try FileManager.default.contentsOfDirectory(atPath: account + "/images/mona/" + dated[0])
        #expect(allSaved.count == 2, "\(allSaved)")
    }

    @Test("no plaintext in any file of the server's data or the clients' homes, while the processes run and after")
    func noPlaintextAtRest() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("kate")
        try await world.register("liam")
        let secret = "PARLEY-E2E-PLAINTEXT-\(UUID().uuidString.prefix(8))"
        let needles = [secret, "kate-password-123", "liam-password-123"].map { Data($0.utf8) }
        #expect(try await world.parley("kate", ["send", "liam", secret]).status == 0)
        #expect(try await world.parley("liam", ["receive", "--wait", "5"]).stdout.contains(secret))
        // While the server runs and the client that holds the message is connected and waiting
        // (its database open: WAL files, journals and anything else they keep open are on disk
        // now): scan until it stops waiting. It waits the full 4 s (nothing more arrives), so the
        // scans do not race a client that exits as soon as it has read what was queued.
        let finished = LockedValue(false)
        let waiting = Task {
            defer { finished.withLock { $0 = true } }
            return try await world.parley("liam", ["receive", "--wait", "4"])
        }
        var scansWhileRunning = 0
        var seenWhileRunning: Set<String> = []
        repeat {
            seenWhileRunning.formUnion(try scanForPlaintext(world.root, needles))
            scansWhileRunning += 1
            try await Task.sleep(for: .milliseconds(100))
        } while !finished.withLock({ $0 })
        #expect(try await waiting.value.status == 0)
        #expect(scansWhileRunning >= 2)
        #expect(try await world.parley("liam", ["send", "kate", "reply " + secret]).status == 0)
        #expect(try await world.parley("kate", ["receive", "--wait", "5"]).status == 0)
        world.server.stop(signal: SIGTERM)
        let seenAfter = try scanForPlaintext(world.root, needles)
        // Every file, whatever its name: databases, WAL files, known_servers, images, pins.
        #expect(seenAfter.contains { $0.hasSuffix("/known_servers") }, "\(seenAfter.sorted())")
        #expect(seenAfter.filter { $0.contains("sqlite") }.count >= 3, "\(seenAfter.sorted())")
        #expect(seenWhileRunning.contains { $0.hasSuffix("-wal") }, "no WAL file was seen while the processes ran: \(seenWhileRunning.sorted())")
        #expect(!world.server.logText.contains(secret))
    }

    /// Reads every regular file under `root` and records an issue for each that contains one of
    /// `needles`; returns the paths read. A file that vanishes mid-scan (a journal) is skipped.
    private func scanForPlaintext(_ root: URL, _ needles: [Data]) throws -> Set<String> {
        var scanned: Set<String> = []
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = enumerator?.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                  let bytes = try? Data(contentsOf: url) else { continue }
            scanned.insert(url.path)
            for needle in needles { #expect(bytes.range(of: needle) == nil, "\(url.path) contains a plaintext") }
        }
        return scanned
    }

    /// Issue 14: every new session between two current clients is PQXDH. The first envelope, as
    /// the real server stores it, is a kind-3 prekey message carrying an ML-KEM-1024 ciphertext.
    @Test("the first envelope between two current clients is a PQXDH prekey message")
    func firstEnvelopeIsPostQuantum() async throws {
        let world = try World()
        try await world.server.start()
        try await world.register("pia")
        try await world.register("quin")
        let sent = try await world.parley("pia", ["send", "quin", "post-quantum hello"])
        #expect(sent.status == 0, "\(sent)")
        let payloads = try RowCounter(path: world.serverDatabase).blobs("SELECT payload FROM mailbox ORDER BY id")
        #expect(payloads.count == 1)
        let first = try #require(payloads.first)
        // version 1, kind 3 (PQXDH prelude: IK 32, EK 32, SPK id 4, has OTPK 1, OTPK id 4, KEM id 4,
        // ML-KEM ciphertext 1568), then the ratchet header and ciphertext.
        let preludeBytes: Int = 32 + 32 + 4 + 1 + 4 + 4 + 1568
        #expect(first.count > 2 + preludeBytes + 40)
        #expect(Array(first.prefix(2)) == [1, 3], "\(first.prefix(2))")
        let received = try await world.parley("quin", ["receive"])
        #expect(received.stdout.contains("post-quantum hello"), "\(received)")
    }
}
