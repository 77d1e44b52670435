import NIOCore
import SecureChannel

extension SourceAddress {
    /// The source of a peer's socket address; nil for a Unix domain socket or no address.
    init?(_ address: SocketAddress?) {
        switch address {
        case .v4(let v4)?:
            var raw = v4.address.sin_addr
            self.init(ipv4: withUnsafeBytes(of: &raw) { Array($0) })
        case .v6(let v6)?:
            var raw = v6.address.sin6_addr
            self.init(ipv6: withUnsafeBytes(of: &raw) { Array($0) })
        default:
            return nil
        }
    }
}
