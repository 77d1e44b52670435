import ClientCore
import Conversations
import Foundation
import Primitives
import StoreContractTests
import Testing
@testable import PNGImages

@Suite struct FileSystemImageBlobStoreTests {
    static func id(_ seed: UInt8) throws -> ImageBlobID { try ImageBlobID(bytes: [UInt8](repeating: seed, count: ImageBlobID.byteCount)) }

    @Test(arguments: ImageBlobStoreContract.checks)
    func meetsTheContract(_ check: ContractCheck<ImageBlobStoreFactory>) async throws {
        let root = try FileSystemImageLibraryTests.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await check.run { FileSystemImageBlobStore(root: root + "/store-\(UUID().uuidString)") }
    }

    @Test func blobsAreFlatOpaquePrivateFilesWithNoTemporaryLeftBehind() throws {
        let root = try FileSystemImageLibraryTests.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = FileSystemImageBlobStore(root: root)
        try store.write([1, 2, 3], as: Self.id(0xab))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["blobs"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/blobs") == [String(repeating: "ab", count: 16)])
        #expect(try FileSystemImageLibraryTests.mode(root + "/blobs") == 0o700)
        #expect(try FileSystemImageLibraryTests.mode(store.path(of: Self.id(0xab))) == 0o600)
        #expect(try store.allIDs() == [Self.id(0xab)])
    }

    @Test func aSymlinkPlantedAsTheBlobFolderIsNeverFollowed() throws {
        let root = try FileSystemImageLibraryTests.makeRoot()
        let outside = try FileSystemImageLibraryTests.makeRoot()
        defer {
            try? FileManager.default.removeItem(atPath: root)
            try? FileManager.default.removeItem(atPath: outside)
        }
        try FileManager.default.createSymbolicLink(atPath: root + "/blobs", withDestinationPath: outside)
        let store = FileSystemImageBlobStore(root: root)
        #expect(throws: StoreError.self) { try store.write([1], as: Self.id(1)) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
    }

    @Test func aLegacyImageIsFoundBelowTheCurrentRootAndItsEmptyPeerFolderPrunedOnRemoval() throws {
        let root = try FileSystemImageLibraryTests.makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let library = FileSystemImageLibrary(root: root)
        let image = try FileSystemImageLibraryTests.image()
        let saved = try library.save(image, peer: Username("bob"), messageID: FileSystemImageLibraryTests.messageID(1), receivedAt: FileSystemImageLibraryTests.receivedAt)
        // As a previous version recorded it, under a home that has since moved.
        let recorded = "/old/home/account" + saved.dropFirst(root.count)
        let found = try library.legacyImage(at: recorded)
        #expect(found.path == saved)
        #expect(found.png == image.png)
        #expect(throws: StoreError.notFound(root + "/images/bob/2024-03-09/000000-00000000.png")) {
            try library.legacyImage(at: "/x/images/bob/2024-03-09/000000-00000000.png")
        }
        #expect(throws: StoreError.self) { try library.legacyImage(at: "/etc/passwd") }
        try library.remove([found.path])
        #expect(!FileManager.default.fileExists(atPath: root + "/images/bob"), "an empty folder named after the peer was left")
    }
}
