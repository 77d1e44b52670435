import ClientCore
import Primitives
import Testing

/// The pinning decision (issue 12, part 5; issue 13 asked for it out of the executable): a server
/// named by several addresses is one identity.
@Suite("Server trust: pins across the nodes of one server")
struct ServerTrustTests {
    let k1 = try! X25519PublicKey(bytes: [UInt8](repeating: 1, count: 32))
    let k2 = try! X25519PublicKey(bytes: [UInt8](repeating: 2, count: 32))

    @Test func aServerNeverMetIsTrustedOnFirstUse() throws {
        #expect(try ServerTrust.expectedKey(for: ["a:1", "b:2"], override: nil, pins: ["c:3": k1]) == nil)
    }

    @Test func anyPinnedAddressOfTheListSetsTheKeyForAll() throws {
        #expect(try ServerTrust.expectedKey(for: ["a:1", "b:2"], override: nil, pins: ["b:2": k1]) == k1)
        #expect(try ServerTrust.expectedKey(for: ["a:1", "b:2"], override: nil, pins: ["a:1": k1, "b:2": k1]) == k1)
    }

    @Test func addressesPinnedToDifferentKeysCannotBeOneServer() {
        #expect(throws: ServerTrust.Refusal.conflictingPins(["a:1": k1, "b:2": k2])) {
            try ServerTrust.expectedKey(for: ["a:1", "b:2"], override: nil, pins: ["a:1": k1, "b:2": k2])
        }
    }

    @Test func anExplicitKeyReplacesThePins() throws {
        #expect(try ServerTrust.expectedKey(for: ["a:1", "b:2"], override: k2, pins: ["a:1": k1, "b:2": k1]) == k2)
    }

    @Test func afterAConnectionEveryAddressOfTheListIsPinnedToTheProvenKey() {
        #expect(ServerTrust.addressesToPin(["a:1", "b:2", "a:1"], proven: k1, pins: [:]) == ["a:1", "b:2"])
        #expect(ServerTrust.addressesToPin(["a:1", "b:2"], proven: k1, pins: ["a:1": k1]) == ["b:2"])
        #expect(ServerTrust.addressesToPin(["a:1"], proven: k1, pins: ["a:1": k1]).isEmpty)
    }

    @Test func accountsLiveInAFolderNamedAfterTheKeyNotTheAddress() {
        #expect(ServerTrust.folderName(for: k1) == "server-" + String(repeating: "01", count: 32))
        #expect(ServerTrust.folderName(for: k1) != ServerTrust.folderName(for: k2))
    }
}
