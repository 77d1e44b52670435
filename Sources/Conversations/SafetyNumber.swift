import Primitives

/// A safety number: 60 digits that two people compare to know they hold each other's real
/// identity keys. Both sides compute the same number.
///
/// For each party, h = SHA-512(0x00 0x00 || identity public || username), then 5199 more rounds of
/// h = SHA-512(h || identity public); the first 30 bytes, read as six 5-byte big-endian integers
/// each mod 100000, give 30 digits. The two halves are sorted and concatenated.
public struct SafetyNumber: Hashable, Sendable, CustomStringConvertible {
    /// The 60 digits, without spaces.
    public let digits: String

    public init(
        localUsername: Username, localIdentity: Ed25519PublicKey,
        remoteUsername: Username, remoteIdentity: Ed25519PublicKey,
        crypto: any CryptoProvider
    ) {
        let halves = [
            Self.half(username: localUsername, identity: localIdentity, crypto: crypto),
            Self.half(username: remoteUsername, identity: remoteIdentity, crypto: crypto),
        ].sorted()
        digits = halves.joined()
    }

    /// 12 groups of 5 digits separated by spaces, as people read it.
    /// A safety number computed elsewhere and told back as its 60 digits (the daemon's answer
    /// read by the command line); nil for anything else.
    public init?(digits: String) {
        guard digits.count == 60, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        self.digits = digits
    }

    public var grouped: String {
        stride(from: 0, to: digits.count, by: 5).map { offset in
            let start = digits.index(digits.startIndex, offsetBy: offset)
            return String(digits[start..<digits.index(start, offsetBy: 5)])
        }.joined(separator: " ")
    }

    public var description: String { grouped }

    static func half(username: Username, identity: Ed25519PublicKey, crypto: any CryptoProvider) -> String {
        var hash = crypto.sha512([0, 0] + identity.bytes + Array(username.value.utf8))
        for _ in 1..<ConversationLimits.safetyNumberIterations {
            hash = crypto.sha512(hash + identity.bytes)
        }
        var digits = ""
        for chunk in 0..<6 {
            let value = hash[chunk * 5..<chunk * 5 + 5].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % 100_000
            let text = String(value)
            digits += String(repeating: "0", count: 5 - text.count) + text
        }
        return digits
    }
}
