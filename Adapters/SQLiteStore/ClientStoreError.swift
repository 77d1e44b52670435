import Primitives

/// Why the client's encrypted database could not be opened or re-keyed.
///
/// Thrown only by ``SQLiteClientStore/open(path:password:crypto:random:cost:)`` and its
/// siblings, and by ``SQLiteClientStore/changePassword(old:new:cost:)``. Once a store is open,
/// the four store ports it vends throw `StoreError`, as every store port does. No case carries a
/// password, a key or a decrypted byte.
public enum ClientStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The password does not unwrap the database's data key. Authenticated encryption cannot tell
    /// a wrong password from a keyring altered on disk, so both land here; in either case nothing
    /// was decrypted.
    case wrongPassword
    /// The file is not a SQLite database, is damaged, belongs to another application, or its
    /// keyring is missing or malformed. Nothing in it was decrypted or changed.
    case corrupt(String)
    /// The file cannot be created, opened or written (permissions, disk full, locked by another
    /// process), or it was written by a newer Parley.
    case unavailable(String)
    /// Argon2id could not derive the wrapping key: the cost is outside
    /// ``SQLiteClientStore/Limits`` or the machine lacks the memory it asks for.
    case keyDerivationFailed(String)

    public var description: String {
        switch self {
        case .wrongPassword:
            "wrong password: it does not unlock this device's message database (nothing was decrypted)"
        case .corrupt(let detail):
            "the message database is damaged or is not a Parley client database: \(detail)"
        case .unavailable(let detail):
            "the message database cannot be used: \(detail)"
        case .keyDerivationFailed(let detail):
            "the database key could not be derived from the password: \(detail)"
        }
    }

    /// Translates the shared SQLite layer's error for the open path.
    init(_ error: StoreError) {
        switch error {
        case .corrupt(let detail): self = .corrupt(detail)
        case .unavailable(let detail), .diskFull(let detail), .alreadyExists(let detail), .notFound(let detail), .limitReached(let detail):
            self = .unavailable(detail)
        }
    }
}
