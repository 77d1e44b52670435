import ClientCore
import Testing

/// Makes a fresh, empty ``ClientSettingsStore``.
public typealias ClientSettingsStoreFactory = @Sendable () throws -> any ClientSettingsStore

/// The behaviour every ``ClientSettingsStore`` adapter must have: a value comes back byte for byte
/// under its own key only, and setting a key again replaces its value.
public enum ClientSettingsStoreContract {
    public static let checks: [ContractCheck<ClientSettingsStoreFactory>] = [
        ContractCheck("an unknown key has no value") { make in
            let store = try make()
            #expect(try store.value(forKey: "own username") == nil)
        },
        ContractCheck("a value comes back byte for byte, the empty value and every byte value included") { make in
            let store = try make()
            let bytes = (0...255).map { UInt8($0) }
            try store.setValue(bytes, forKey: "all bytes")
            try store.setValue([], forKey: "empty")
            #expect(try store.value(forKey: "all bytes") == bytes)
            #expect(try store.value(forKey: "empty") == [])
        },
        ContractCheck("setting a key again replaces its value") { make in
            let store = try make()
            try store.setValue([0, 0, 0, 1], forKey: "next-one-time-prekey-id")
            try store.setValue([0, 0, 0, 101], forKey: "next-one-time-prekey-id")
            #expect(try store.value(forKey: "next-one-time-prekey-id") == [0, 0, 0, 101])
        },
        ContractCheck("keys are independent and exact: case, whitespace and Unicode matter") { make in
            let store = try make()
            let keys = ["own username", "Own username", "own username ", "clé", "cle\u{301}"]
            for (index, key) in keys.enumerated() { try store.setValue([UInt8(index)], forKey: key) }
            for (index, key) in keys.enumerated() {
                #expect(try store.value(forKey: key) == [UInt8(index)], "\(key.debugDescription)")
            }
            #expect(try store.value(forKey: "own") == nil)
        },
    ]
}
