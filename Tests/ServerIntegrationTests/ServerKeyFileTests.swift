import Foundation
import Primitives
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `parley-server --key-file PATH`: the static key the nodes of one cluster share. Made once, on
/// purpose, by `--print-key`; a node's normal start never makes one (a mistyped path would give
/// that node a key of its own), and refuses a file other users can read or one that is not a key.
@Suite("parley-server --key-file", .timeLimit(.minutes(2)))
struct ServerKeyFileTests {
    static func printKey(_ arguments: [String]) async throws -> Command.Output {
        try await Command.run(try ServerBinary.url(), arguments + ["--print-key"], within: .seconds(30))
    }

    static let success = ProcessExit(exited: true, status: 0)
    static let failure = ProcessExit(exited: true, status: 1)

    @Test("--print-key makes the file once (0600, 32 bytes); nodes on other data directories then prove that key")
    func printKeyMakesTheFileAndNodesShareIt() async throws {
        let directory = try TemporaryDirectory("key-file")
        defer { directory.remove() }
        let keyFile = directory.file("cluster-key")
        let made = try await Self.printKey(["--key-file", keyFile, "--data-dir", directory.file("unused")])
        #expect(made.exit == Self.success, "\(made.stderr)")
        let key = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.count == 64 && Hex.decode(key) != nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: keyFile)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect((attributes[.size] as? NSNumber)?.intValue == 32)
        // The data directory's own key is neither made nor used.
        #expect(!FileManager.default.fileExists(atPath: directory.file("unused/server-static-key")))
        // Again: the same key, the file untouched.
        let again = try await Self.printKey(["--key-file", keyFile])
        #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == key)

        for name in ["one", "two"] {
            try await ServerProcess.with(dataDirectory: directory.file("node-\(name)"), arguments: ["--key-file", keyFile]) { server in
                #expect(Hex.encode(server.serverKey.bytes) == key, "node \(name) proves the key file's key")
            }
            #expect(!FileManager.default.fileExists(atPath: directory.file("node-\(name)/server-static-key")))
        }
    }

    @Test("a node's start never makes a key file: a missing one is refused, with how to make it")
    func aMissingKeyFileIsRefused() async throws {
        let directory = try TemporaryDirectory("key-file-missing")
        defer { directory.remove() }
        let keyFile = directory.file("no-such-key")
        let refused = try await Command.run(
            try ServerBinary.url(), ["--key-file", keyFile, "--data-dir", directory.file("data"), "--port", "0"], within: .seconds(30))
        #expect(refused.exit == Self.failure)
        #expect(refused.stderr.contains("there is no key file at \(keyFile)") && refused.stderr.contains("--print-key"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: keyFile))
    }

    @Test("a key file that group or others can read is refused, and so is one that is not a 32-byte key")
    func unsafeOrMalformedKeyFilesAreRefused() async throws {
        let directory = try TemporaryDirectory("key-file-bad")
        defer { directory.remove() }
        let keyFile = directory.file("cluster-key")
        #expect(try await Self.printKey(["--key-file", keyFile]).exit == Self.success)
        for mode in [0o640, 0o604, 0o620] as [mode_t] {
            chmod(keyFile, mode)
            let refused = try await Self.printKey(["--key-file", keyFile])
            #expect(refused.exit == Self.failure, "mode \(String(mode, radix: 8))")
            #expect(refused.stderr.contains("can be read or written by other users") && refused.stderr.contains("chmod 600"), "\(refused.stderr)")
            #expect(refused.stdout.isEmpty, "no key printed from an unsafe file")
        }
        chmod(keyFile, 0o600)
        for bytes in [[UInt8](repeating: 1, count: 31), [UInt8](repeating: 1, count: 33), []] {
            try Data(bytes).write(to: URL(fileURLWithPath: keyFile))
            chmod(keyFile, 0o600)
            let refused = try await Self.printKey(["--key-file", keyFile])
            #expect(refused.exit == Self.failure)
            #expect(refused.stderr.contains("is not a 32-byte key"), "\(refused.stderr)")
        }
        // A directory is not a key either.
        let folder = directory.file("a-folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let notAFile = try await Self.printKey(["--key-file", folder])
        #expect(notAFile.exit == Self.failure)
        #expect(notAFile.stderr.contains("is not a 32-byte key"), "\(notAFile.stderr)")
    }
}
