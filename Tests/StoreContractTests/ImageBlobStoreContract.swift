import ClientCore
import Conversations
import Primitives
import Testing

/// Makes a fresh, empty ``ImageBlobStore``.
public typealias ImageBlobStoreFactory = @Sendable () throws -> any ImageBlobStore

/// The behaviour every ``ImageBlobStore`` adapter must have: bytes come back as written under
/// their own id only, a taken id is refused without touching the blob, and removal ignores ids
/// with no blob.
public enum ImageBlobStoreContract {
    static func id(_ seed: UInt8) -> ImageBlobID { try! ImageBlobID(bytes: [UInt8](repeating: seed, count: ImageBlobID.byteCount)) }

    public static let checks: [ContractCheck<ImageBlobStoreFactory>] = [
        ContractCheck("an unknown id is not found") { make in
            let store = try make()
            #expect(throws: StoreError.self) { try store.read(id(1)) }
            do throws(StoreError) { _ = try store.read(id(1)) } catch {
                guard case .notFound = error else { Issue.record("expected notFound, got \(error)"); return }
            }
        },
        ContractCheck("bytes come back as written, each under its own id, the empty blob included") { make in
            let store = try make()
            let bytes = (0...255).map { UInt8($0) }
            try store.write(bytes, as: id(1))
            try store.write([], as: id(2))
            #expect(try store.read(id(1)) == bytes)
            #expect(try store.read(id(2)) == [])
        },
        ContractCheck("writing a taken id is refused and keeps the first blob") { make in
            let store = try make()
            try store.write([1, 2, 3], as: id(1))
            #expect(throws: StoreError.self) { try store.write([9], as: id(1)) }
            do throws(StoreError) { try store.write([9], as: id(1)) } catch {
                guard case .alreadyExists = error else { Issue.record("expected alreadyExists, got \(error)"); return }
            }
            #expect(try store.read(id(1)) == [1, 2, 3])
        },
        ContractCheck("removal deletes only the given blobs and ignores missing ids") { make in
            let store = try make()
            try store.write([1], as: id(1))
            try store.write([2], as: id(2))
            try store.remove([id(1), id(3)])
            try store.remove([id(1)])
            #expect(throws: StoreError.self) { try store.read(id(1)) }
            #expect(try store.read(id(2)) == [2])
            // A removed id can be used again.
            try store.write([4], as: id(1))
            #expect(try store.read(id(1)) == [4])
        },
    ]
}
