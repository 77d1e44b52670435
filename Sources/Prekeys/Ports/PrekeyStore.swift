import Primitives

/// The server's store of published prekeys (public halves only).
///
/// Implemented by `InMemoryPrekeyStore`, `SQLitePrekeyStore` and `PostgresPrekeyStore`; all pass the same
/// contract suite.
/// Every method throws ``StoreError`` only.
public protocol PrekeyStore: Sendable {
    /// Sets `user`'s current signed prekey, replacing any previous one.
    func setSignedPrekey(_ prekey: SignedPrekey, for user: Username) throws(StoreError)

    /// Adds one-time prekeys to `user`'s pool. Ids already in the pool are ignored.
    func addOneTimePrekeys(_ prekeys: [OneTimePrekey], for user: Username) throws(StoreError)

    /// `user`'s signed prekey and one of their one-time prekeys, which is removed in the same
    /// atomic step so that it is handed out at most once, even to concurrent callers. `nil` when
    /// the user has no signed prekey; the one-time prekey is `nil` when the pool is empty.
    func takePrekeys(for user: Username) throws(StoreError) -> (signedPrekey: SignedPrekey, oneTimePrekey: OneTimePrekey?)?

    /// `user`'s current signed prekey without touching their one-time prekeys (a bundle handed out
    /// without one, when the target's one-time prekeys are being rationed). `nil` when none is set.
    func signedPrekey(for user: Username) throws(StoreError) -> SignedPrekey?

    /// The ids of `user`'s one-time prekeys still in the pool, ascending, at most `limit` of them:
    /// what the owner's client compares with its own secrets to learn which were handed out.
    func oneTimePrekeyIDs(for user: Username, limit: Int) throws(StoreError) -> [UInt32]

    /// How many one-time prekeys `user` has left.
    func oneTimePrekeyCount(for user: Username) throws(StoreError) -> Int

    /// Sets `user`'s last-resort ML-KEM prekey, replacing any previous one.
    func setLastResortKEMPrekey(_ prekey: KEMPrekey, for user: Username) throws(StoreError)

    /// Adds one-time ML-KEM prekeys to `user`'s pool. Ids already in the pool are ignored.
    func addOneTimeKEMPrekeys(_ prekeys: [KEMPrekey], for user: Username) throws(StoreError)

    /// The ML-KEM prekey for a bundle: when `allowOneTime`, one of `user`'s one-time ML-KEM
    /// prekeys, removed in the same atomic step so that it is handed out at most once even to
    /// concurrent callers; otherwise, or when none is left, the last-resort one (which stays).
    /// `nil` when the user has published neither (a client that predates PQXDH).
    func takeKEMPrekey(for user: Username, allowOneTime: Bool) throws(StoreError) -> BundledKEMPrekey?

    /// The ids of `user`'s one-time ML-KEM prekeys still in the pool, ascending, at most `limit`,
    /// and the id of the last-resort one (nil when none was published).
    func kemPrekeyStatus(for user: Username, limit: Int) throws(StoreError) -> (oneTimeIDs: [UInt32], lastResortID: UInt32?)

    /// Removes every prekey of `user` (account deletion), ML-KEM ones included.
    func removeAll(for user: Username) throws(StoreError)
}
