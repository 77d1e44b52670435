/// Where a login attempt comes from, for throttling: the transport's view of the peer's address.
public enum LoginSource {
    /// The source of attempts whose address is not known (tests, tools). They share one bucket.
    public static let unknown = "unknown"
}
