import Primitives

/// ``PasswordHasher`` as Argon2id (RFC 9106) PHC strings, over the ``CryptoProvider`` port.
///
/// It lives in the domain because it does no I/O: it only fixes the algorithm and an explicit
/// cost, and delegates the arithmetic (and the salt's randomness) to whichever crypto adapter the
/// composition root supplies.
public struct Argon2idPasswordHasher: PasswordHasher {
    private let crypto: any CryptoProvider
    /// The cost new hashes are made with; hashes made with any other cost report
    /// ``needsRehash(_:)``.
    public let cost: Argon2Cost

    /// - Parameter cost: ``Argon2Cost/interactive`` for a server; ``Argon2Cost/minimum`` only in
    ///   tests.
    public init(crypto: any CryptoProvider, cost: Argon2Cost) {
        self.crypto = crypto
        self.cost = cost
    }

    public func hash(_ password: SecretBytes) throws(CryptoError) -> String {
        try crypto.argon2idHashString(password: password, cost: cost)
    }

    public func verify(_ password: SecretBytes, against hash: String) -> Bool {
        crypto.argon2idVerify(hashString: hash, password: password)
    }

    public func needsRehash(_ hash: String) -> Bool {
        crypto.argon2idNeedsRehash(hashString: hash, cost: cost)
    }
}
