/// Why a store port could not do what was asked. Every store port throws only this; adapters
/// translate their database's errors into it so that no SQLite or file-system type reaches the
/// core.
public enum StoreError: Error, Equatable, Sendable {
    /// The record to create already exists (e.g. a username that is taken).
    case alreadyExists(String)
    /// The record the operation needs does not exist.
    case notFound(String)
    /// A bound was reached (e.g. a mailbox full by count or bytes).
    case limitReached(String)
    /// The stored data is unreadable or fails an integrity check.
    case corrupt(String)
    /// The disk (or a quota or file-size limit) is full: nothing was written. Retrying after space
    /// is freed succeeds; it is never a sign of bad data.
    case diskFull(String)
    /// The storage could not be reached or written (I/O error, locked, closed).
    case unavailable(String)
}
