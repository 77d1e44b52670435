import Primitives

/// Which key a server must prove, and what to pin once it has: the pinning decision, kept out of
/// the front ends.
///
/// A server is named by one or more addresses (the nodes of one cluster, tried in order). A
/// cluster is one server with one identity, its Noise static key: every address of the list must
/// prove the same key, an account's local data belongs to that key rather than to an address, and
/// reaching another node of the same cluster needs neither a new pin nor a second database. The
/// first connection to a server no address of which is pinned trusts the key it proves (trust on
/// first use, as SSH does); `--server-key` replaces the pins.
public enum ServerTrust {
    /// Why a connection is refused before anything is sent.
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        /// Addresses named as one server are pinned to different keys.
        case conflictingPins([String: X25519PublicKey])

        public var description: String {
            switch self {
            case .conflictingPins(let pins):
                let lines = pins.keys.sorted().map { "  \($0): \(Hex.encode(pins[$0]!.bytes))" }.joined(separator: "\n")
                return "these addresses were named as one server but are pinned to different keys:\n\(lines)"
            }
        }
    }

    /// The key the server at `addresses` must prove: `override` when given, else the key pinned
    /// for any of them; nil for a server met for the first time.
    /// - Throws: ``Refusal/conflictingPins(_:)`` when addresses of the list are pinned to
    ///   different keys (they cannot be one server).
    public static func expectedKey(
        for addresses: [String], override: X25519PublicKey?, pins: [String: X25519PublicKey]
    ) throws(Refusal) -> X25519PublicKey? {
        if let override { return override }
        var pinned: [String: X25519PublicKey] = [:]
        for address in addresses { if let key = pins[address] { pinned[address] = key } }
        guard let first = pinned.values.first else { return nil }
        guard pinned.values.allSatisfy({ $0 == first }) else { throw .conflictingPins(pinned) }
        return first
    }

    /// The addresses to pin after a connection to one of `addresses` proved `key`: every address of
    /// the list not pinned to it yet (the list names one server, so its other nodes must prove the
    /// same key later). Empty when nothing changes.
    public static func addressesToPin(_ addresses: [String], proven key: X25519PublicKey, pins: [String: X25519PublicKey]) -> [String] {
        var seen = Set<String>()
        return addresses.filter { pins[$0] != key && seen.insert($0).inserted }
    }

    /// The name of the folder that holds a server's accounts: derived from its key, never from an
    /// address, so that every node of a cluster finds the same accounts.
    public static func folderName(for key: X25519PublicKey) -> String {
        "server-" + Hex.encode(key.bytes)
    }
}
