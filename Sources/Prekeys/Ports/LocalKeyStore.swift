import Primitives

/// A client's own key material: its identity key pair and the secrets of its signed and one-time
/// prekeys. The client adapter keeps it sealed at rest.
///
/// Every method throws ``StoreError`` only, as its signature says.
public protocol LocalKeyStore: Sendable {
    /// The account's long-term identity, if one was created.
    func identityKeyPair() throws(StoreError) -> Ed25519KeyPair?
    /// Stores the identity key pair (once, at registration).
    func setIdentityKeyPair(_ keyPair: Ed25519KeyPair) throws(StoreError)

    /// Every signed prekey still held: the current one and retired ones not yet erased.
    func signedPrekeyPairs() throws(StoreError) -> [SignedPrekeyPair]
    func addSignedPrekeyPair(_ pair: SignedPrekeyPair) throws(StoreError)
    func removeSignedPrekeyPair(id: UInt32) throws(StoreError)

    /// The secret of one-time prekey `id`, if it has not been used yet.
    func oneTimePrekeyPair(id: UInt32) throws(StoreError) -> OneTimePrekeyPair?
    func addOneTimePrekeyPairs(_ pairs: [OneTimePrekeyPair]) throws(StoreError)
    /// Erases a one-time prekey's secret (after the first successful decryption that used it).
    func removeOneTimePrekeyPair(id: UInt32) throws(StoreError)

    /// Every ML-KEM prekey secret still held: last-resort ones (the current and retired ones not
    /// yet erased) and unused one-time ones.
    func kemPrekeyPairs() throws(StoreError) -> [KEMPrekeyPair]
    /// The ML-KEM prekey secret with `id`, if still held.
    func kemPrekeyPair(id: UInt32) throws(StoreError) -> KEMPrekeyPair?
    func addKEMPrekeyPairs(_ pairs: [KEMPrekeyPair]) throws(StoreError)
    /// Erases an ML-KEM prekey secret (a one-time one after its first successful use, a retired
    /// last-resort one after its retention).
    func removeKEMPrekeyPair(id: UInt32) throws(StoreError)
}
