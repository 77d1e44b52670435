import Prekeys
import Primitives

/// A username the contract suites use; the literals are valid by construction.
func user(_ name: String) throws -> Username { try Username(name) }

/// A 32-byte public key whose every byte is `seed`: the stores treat keys as opaque, so any
/// distinct bytes do.
func publicKey(_ seed: UInt8) throws -> X25519PublicKey {
    try X25519PublicKey(bytes: [UInt8](repeating: seed, count: X25519PublicKey.byteCount))
}

func identityKey(_ seed: UInt8) throws -> Ed25519PublicKey {
    try Ed25519PublicKey(bytes: [UInt8](repeating: seed, count: Ed25519PublicKey.byteCount))
}

func signedPrekey(id: UInt32, seed: UInt8) throws -> SignedPrekey {
    try SignedPrekey(
        id: id, publicKey: publicKey(seed),
        signature: Ed25519Signature(bytes: [UInt8](repeating: seed &+ 1, count: Ed25519Signature.byteCount)))
}

func oneTimePrekeys(_ ids: some Sequence<UInt32>) throws -> [OneTimePrekey] {
    try ids.map { id in try OneTimePrekey(id: id, publicKey: publicKey(UInt8(truncatingIfNeeded: id))) }
}

extension StoreError {
    /// The contracts pin the case of an error, not the adapter's wording of its message.
    var isAlreadyExists: Bool { if case .alreadyExists = self { true } else { false } }
    var isNotFound: Bool { if case .notFound = self { true } else { false } }
}
