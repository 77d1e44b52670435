/// Where a connection comes from, as far as per-address limits are concerned: an IPv4 address, or
/// the /64 prefix of an IPv6 address (one host usually holds a whole /64, so counting single IPv6
/// addresses would give it billions of budgets). IPv4-mapped IPv6 addresses count as IPv4.
///
/// Only transports make these, from the peer's socket address; the application treats the value as
/// an opaque key for its limits and logs. Not authenticated (an address is not an identity) and
/// not sent anywhere.
public struct SourceAddress: Hashable, Sendable, CustomStringConvertible {
    /// The normalised address text: `203.0.113.7`, or `2001:db8:1:2::/64`.
    public let value: String

    /// Wraps an already normalised address text (transports and tests).
    public init(_ value: String) {
        self.value = value
    }

    /// The source of an IPv4 address, given as its four bytes.
    public init(ipv4 bytes: [UInt8]) {
        self.init(bytes.prefix(4).map(String.init).joined(separator: "."))
    }

    /// The source of an IPv6 address, given as its 16 bytes: its /64 prefix, or the IPv4 address
    /// it maps (`::ffff:a.b.c.d`).
    public init(ipv6 bytes: [UInt8]) {
        precondition(bytes.count == 16, "an IPv6 address has 16 bytes")
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            self.init(ipv4: Array(bytes[12..<16]))
            return
        }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        self.init(groups.joined(separator: ":") + "::/64")
    }

    public var description: String { value }
}
