import Primitives

/// Noise's hash-based functions for the BLAKE2b suite: HASH, HMAC-HASH and HKDF (spec sections 4.3
/// and 12.8), over the ``CryptoProvider`` port's unkeyed BLAKE2b-512.
///
/// HMAC is built by hand (RFC 2104, ipad 0x36 / opad 0x5c over a 128-byte block) on top of plain
/// BLAKE2b. libsodium's keyed BLAKE2b mode was rejected on purpose: it is a different function, and
/// other Noise implementations would not interoperate with it.
struct NoiseHash: Sendable {
    let crypto: any CryptoProvider

    /// HASH(data): BLAKE2b with a 64-byte output.
    func hash(_ data: [UInt8]) throws(NoiseError) -> [UInt8] {
        do {
            return try crypto.blake2b(data, outputLength: NoiseProtocol.hashLength)
        } catch {
            throw NoiseError.cryptoFailure(error)
        }
    }

    /// HMAC-HASH(key, data) per RFC 2104 with BLOCKLEN 128.
    func hmac(key: SecretBytes, data: [UInt8]) throws(NoiseError) -> SecretBytes {
        // `Array.withUnsafeBytes` only rethrows untyped errors: carry the typed one out in a Result.
        try data.withUnsafeBytes { bytes in
            Result { () throws(NoiseError) -> SecretBytes in try hmac(key: key, message: bytes) }
        }.get()
    }

    /// HMAC-HASH over bytes lent in place (secret storage, for the DH output and chaining values).
    /// Every temporary is sized once (so no reallocation leaves a stale copy behind) and wiped.
    private func hmac(key: SecretBytes, message: UnsafeRawBufferPointer) throws(NoiseError) -> SecretBytes {
        // Keys longer than a block are hashed first (RFC 2104); Noise only ever passes 64 bytes.
        var block = try key.withUnsafeBytes { (raw) throws(NoiseError) -> [UInt8] in
            guard raw.count > NoiseProtocol.blockLength else { return Array(raw) }
            var long = Array(raw)
            defer { wipe(&long) }
            return try hash(long)
        }
        block.reserveCapacity(NoiseProtocol.blockLength)
        block.append(contentsOf: repeatElement(0, count: NoiseProtocol.blockLength - block.count))
        defer { wipe(&block) }

        var inner = [UInt8]()
        inner.reserveCapacity(NoiseProtocol.blockLength + message.count)
        inner.append(contentsOf: block.lazy.map { $0 ^ 0x36 })
        inner.append(contentsOf: message)
        var innerDigest = try hash(inner)
        wipe(&inner)

        var outer = [UInt8]()
        outer.reserveCapacity(NoiseProtocol.blockLength + innerDigest.count)
        outer.append(contentsOf: block.lazy.map { $0 ^ 0x5c })
        outer.append(contentsOf: innerDigest)
        wipe(&innerDigest)
        var digest = try hash(outer)
        wipe(&outer)
        defer { wipe(&digest) }
        return SecretBytes(copying: digest)
    }

    /// HKDF(chaining_key, input_key_material, 2) from spec section 4.3: two 64-byte outputs. The
    /// input key material (a DH output) and the first output are MACed from secret storage.
    func hkdf2(chainingKey: SecretBytes, inputKeyMaterial: SecretBytes) throws(NoiseError) -> (SecretBytes, SecretBytes) {
        let tempKey = try inputKeyMaterial.withUnsafeBytes { (ikm) throws(NoiseError) -> SecretBytes in
            try hmac(key: chainingKey, message: ikm)
        }
        let output1 = try hmac(key: tempKey, data: [0x01])
        let second = SecretBytes.concatenating([output1, SecretBytes(copying: [0x02])])
        let output2 = try second.withUnsafeBytes { (bytes) throws(NoiseError) -> SecretBytes in try hmac(key: tempKey, message: bytes) }
        return (output1, output2)
    }

    /// Best-effort wipe of a temporary array. The port takes and returns ordinary arrays, so
    /// intermediate HMAC values pass through them; overwriting them before release narrows (but
    /// cannot close) the window in which they sit in freed memory.
    private func wipe(_ bytes: inout [UInt8]) {
        SecretBytes.wipe(&bytes)  // explicit_bzero: a plain loop of stores may be elided
    }
}
