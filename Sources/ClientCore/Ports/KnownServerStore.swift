import Primitives

/// The client's pins of server keys: which static key each server address proved (trust on first
/// use), kept outside any account's database since it is read before an account is chosen.
///
/// Addresses are opaque strings here (`HOST:PORT` as the person typed them, normalised by the
/// front end). Every method throws `StoreError` only, as its signature says.
public protocol KnownServerStore: Sendable {
    /// Every pinned address with its key.
    func pins() throws(StoreError) -> [String: X25519PublicKey]
    /// Pins `key` for each of `addresses`, replacing earlier pins of those addresses, in one write.
    func pin(_ key: X25519PublicKey, for addresses: [String]) throws(StoreError)
}
