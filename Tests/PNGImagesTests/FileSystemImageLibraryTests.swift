import ClientCore
import Envelope
import Foundation
import Primitives
import Testing
@testable import PNGImages

@Suite struct FileSystemImageLibraryTests {
    /// 2024-03-09 07:05:03.250 UTC.
    static let receivedAt = Timestamp(millisecondsSinceEpoch: 1_709_967_903_250)

    /// A fresh folder under the system temporary directory, removed by the caller.
    static func makeRoot() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("parley-images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        return url.path
    }

    static func messageID(_ first: UInt8) throws -> MessageID {
        try MessageID(bytes: [first, 0xAD, 0xBE, 0xEF] + [UInt8](repeating: 0x11, count: 12))
    }

    static func image() throws -> ValidatedImage {
        let pixels: [UInt8] = [1, 2, 3, 255]
        return try LibPNGImageValidator().validate(UntrustedImage(bytes: PNGFixture.rgba(width: 1, height: 1, pixels: pixels)))
    }

    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    @Test func savesAtTheDocumentedPathWithPrivatePermissions() throws {
        let root = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let library = FileSystemImageLibrary(root: root)
        let image = try Self.image()

        let path = try library.save(image, peer: Username("Alice"), messageID: Self.messageID(0xDE), receivedAt: Self.receivedAt)

        #expect(path == root + "/images/alice/2024-03-09/070503-deadbeef.png")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == image.png)
        #expect(try Self.mode(path) == 0o600)
        for folder in ["/images", "/images/alice", "/images/alice/2024-03-09"] {
            #expect(try Self.mode(root + folder) == 0o700, "\(folder)")
        }
    }

    @Test func permissionsIgnoreAPermissiveUmask() throws {
        let root = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // umask is process-wide and suites run in parallel; that is harmless here because no other
        // test asserts the mode of anything this library did not create (and fchmod fixes those).
        let previous = umask(0)
        defer { umask(previous) }
        let path = try FileSystemImageLibrary(root: root).save(Self.image(), peer: Username("bob"), messageID: Self.messageID(1), receivedAt: Self.receivedAt)
        #expect(try Self.mode(path) == 0o600)
        #expect(try Self.mode(root + "/images/bob") == 0o700)
    }

    @Test func savingTheSameMessageTwiceIsRefusedAndKeepsTheFirstFile() throws {
        let root = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let library = FileSystemImageLibrary(root: root)
        let path = try library.save(Self.image(), peer: Username("bob"), messageID: Self.messageID(2), receivedAt: Self.receivedAt)
        #expect(throws: StoreError.alreadyExists(path)) {
            try library.save(Self.image(), peer: Username("bob"), messageID: Self.messageID(2), receivedAt: Self.receivedAt)
        }
        #expect(try library.images(from: Username("bob")) == [path])
    }

    @Test func listsOnlyThatPeersImagesSorted() throws {
        let root = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let library = FileSystemImageLibrary(root: root)
        let bob = try Username("bob")
        #expect(try library.images(from: bob) == [])

        let later = try library.save(Self.image(), peer: bob, messageID: Self.messageID(3), receivedAt: Timestamp(secondsSinceEpoch: 1_709_251_199 + 86_400 * 30))
        let leapDay = try library.save(Self.image(), peer: bob, messageID: Self.messageID(4), receivedAt: Timestamp(secondsSinceEpoch: 1_709_251_199))
        let sameDay = try library.save(Self.image(), peer: bob, messageID: Self.messageID(5), receivedAt: Timestamp(secondsSinceEpoch: 1_709_251_199 - 3600))
        _ = try library.save(Self.image(), peer: Username("carol"), messageID: Self.messageID(6), receivedAt: Self.receivedAt)
        // Not images: a stray file of another type, and a symlink named like an image.
        try Data().write(to: URL(fileURLWithPath: root + "/images/bob/2024-02-29/notes.txt"))
        try FileManager.default.createSymbolicLink(atPath: root + "/images/bob/2024-02-29/235959-ffffffff.png", withDestinationPath: "/etc/passwd")

        #expect(leapDay.hasSuffix("/images/bob/2024-02-29/235959-04adbeef.png"))
        #expect(sameDay.hasSuffix("/images/bob/2024-02-29/225959-05adbeef.png"))
        #expect(try library.images(from: bob) == [sameDay, leapDay, later])
    }

    @Test func removeDeletesFilesAndPrunesEmptyDateFolders() throws {
        let root = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let library = FileSystemImageLibrary(root: root)
        let bob = try Username("bob")
        let first = try library.save(Self.image(), peer: bob, messageID: Self.messageID(7), receivedAt: Self.receivedAt)
        let second = try library.save(Self.image(), peer: bob, messageID: Self.messageID(8), receivedAt: Self.receivedAt)
        let other = try library.save(Self.image(), peer: bob, messageID: Self.messageID(9), receivedAt: Timestamp(secondsSinceEpoch: 946_684_800))

        try library.remove([first])
        #expect(try library.images(from: bob) == [other, second].sorted())
        #expect(FileManager.default.fileExists(atPath: root + "/images/bob/2024-03-09"))

        try library.remove([second, other, first])  // `first` is already gone: ignored.
        #expect(try library.images(from: bob) == [])
        #expect(!FileManager.default.fileExists(atPath: root + "/images/bob/2024-03-09"))
        #expect(!FileManager.default.fileExists(atPath: root + "/images/bob/2000-01-01"))
    }

    @Test func removeRefusesPathsOutsideTheLibraryAndThenDeletesNothing() throws {
        let root = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let outside = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let victim = outside + "/victim.png"
        try Data([1]).write(to: URL(fileURLWithPath: victim))
        let library = FileSystemImageLibrary(root: root)
        let kept = try library.save(Self.image(), peer: Username("bob"), messageID: Self.messageID(10), receivedAt: Self.receivedAt)

        let hostile = [
            victim,
            "/etc/passwd",
            root + "/images/bob/2024-03-09/../../../../" + (outside as NSString).lastPathComponent + "/victim.png",
            root + "/../" + (outside as NSString).lastPathComponent + "/victim.png",
            root + "/secrets.png",
            root + "/images/bob/2024-03-09",
            root + "/images/bob/2024-03-09/070503-0aadbeef.txt",
            root + "/images/Not..A..User/2024-03-09/x.png",
            root + "extra/images/bob/2024-03-09/070503-0aadbeef.png",
            "images/bob/2024-03-09/070503-0aadbeef.png",
        ]
        for path in hostile {
            #expect(throws: StoreError.notFound("not an image in this library: \(path)")) {
                try library.remove([kept, path])
            }
        }
        #expect(FileManager.default.fileExists(atPath: victim))
        #expect(try library.images(from: Username("bob")) == [kept])
    }

    @Test func neverFollowsASymlinkOutOfTheRoot() throws {
        let root = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let outside = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        try FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: root + "/images/mallory", withDestinationPath: outside)
        try FileManager.default.createDirectory(atPath: outside + "/2024-03-09", withIntermediateDirectories: false)
        let victim = outside + "/2024-03-09/070503-0badbeef.png"
        try Data([1]).write(to: URL(fileURLWithPath: victim))
        let library = FileSystemImageLibrary(root: root)
        let mallory = try Username("mallory")

        #expect(throws: StoreError.self) {
            try library.save(Self.image(), peer: mallory, messageID: Self.messageID(12), receivedAt: Self.receivedAt)
        }
        #expect(throws: StoreError.self) { try library.images(from: mallory) }
        #expect(throws: StoreError.self) { try library.remove([root + "/images/mallory/2024-03-09/070503-0badbeef.png"]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside + "/2024-03-09") == ["070503-0badbeef.png"])
        #expect(FileManager.default.fileExists(atPath: victim))
    }

    @Test func createsAMissingRootPrivately() throws {
        let parent = try Self.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let root = parent + "/account"
        _ = try FileSystemImageLibrary(root: root).save(Self.image(), peer: Username("bob"), messageID: Self.messageID(13), receivedAt: Self.receivedAt)
        #expect(try Self.mode(root) == 0o700)
    }

    @Test(arguments: [
        (Int64(1_709_967_903_250), "2024-03-09", "070503"),
        (1_709_251_199_000, "2024-02-29", "235959"),
        (946_684_800_000, "2000-01-01", "000000"),
        (0, "1970-01-01", "000000"),
        (-1, "1969-12-31", "235959"),
        (-86_400_000, "1969-12-31", "000000"),
    ])
    func utcDateAndTimeFromATimestamp(milliseconds: Int64, date: String, time: String) {
        let value = UTCDateTime(Timestamp(millisecondsSinceEpoch: milliseconds))
        #expect(value.dateStamp == date)
        #expect(value.timeStamp == time)
    }
}
