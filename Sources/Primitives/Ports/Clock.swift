/// The wall-clock port: what time it is now.
///
/// Domain rules that depend on time (login throttling, signed-prekey rotation, message
/// timestamps) read it through this port so that tests can move time by hand.
public protocol Clock: Sendable {
    /// The current time.
    func now() -> Timestamp
}

/// A point in time: milliseconds since the Unix epoch, UTC.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public init(secondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = secondsSinceEpoch * 1000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    /// This time moved by `duration` (which may be negative).
    public func adding(_ duration: Duration) -> Timestamp {
        let (seconds, attoseconds) = duration.components
        return Timestamp(millisecondsSinceEpoch: millisecondsSinceEpoch + seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// The duration from `other` to this time.
    public func since(_ other: Timestamp) -> Duration {
        .milliseconds(millisecondsSinceEpoch - other.millisecondsSinceEpoch)
    }

    public var description: String { "Timestamp(\(millisecondsSinceEpoch) ms)" }
}
