import Primitives

/// The numbers that govern prekeys, in one place.
public enum PrekeyPolicy {
    /// One-time prekeys published at registration and after each top-up.
    public static let oneTimePrekeyTarget = 100
    /// Top up when the server reports fewer than this many left.
    public static let oneTimePrekeyLowWatermark = 25
    /// Most one-time prekeys a single upload may carry.
    public static let maxOneTimePrekeysPerUpload = 200
    /// Most one-time prekeys the server keeps for one account (a top-up past it is refused), so
    /// that nobody can fill the server's disk with their own prekeys. Ten times the target.
    public static let maxOneTimePrekeysPerAccount = 1000
    /// A one-time prekey secret the server handed out but no first message used is erased this
    /// long after the client first saw it gone from the server (``HandedOutPrekeys``).
    public static let handedOutOneTimePrekeyRetention: Duration = .seconds(30 * 24 * 3600)
    /// A signed prekey is replaced after this long.
    public static let signedPrekeyRotation: Duration = .seconds(7 * 24 * 3600)
    /// A replaced signed prekey's secret is kept this long for messages in flight, then erased.
    public static let signedPrekeyRetention: Duration = .seconds(14 * 24 * 3600)

    /// How many one-time prekeys to generate given how many the server still holds (0 when no
    /// top-up is due).
    public static func oneTimePrekeysToGenerate(serverCount: Int) -> Int {
        serverCount < oneTimePrekeyLowWatermark ? max(0, oneTimePrekeyTarget - serverCount) : 0
    }
}
