/// A process-local identifier of one connection, for logs and for the application's bookkeeping.
/// Not sent on the wire and not stable across restarts.
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    /// The raw number, unique within one transport instance.
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public var description: String { "conn-\(rawValue)" }
}
