import Primitives

/// A small private key-value store for the client application's own state (its username, the
/// next prekey ids). Kept sealed at rest like everything else in the client's database.
///
/// Every method throws `StoreError` only, as its signature says.
public protocol ClientSettingsStore: Sendable {
    func value(forKey key: String) throws(StoreError) -> [UInt8]?
    func setValue(_ value: [UInt8], forKey key: String) throws(StoreError)
}
