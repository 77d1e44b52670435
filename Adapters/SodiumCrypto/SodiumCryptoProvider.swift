internal import CSodium
import Primitives

/// `sodium_init` runs exactly once, on first use, from whichever thread gets there first: Swift
/// initialises globals lazily under a once-guard.
private let sodiumInitialised: Bool = sodium_init() >= 0

/// The crypto port over libsodium 1.0.18.
///
/// libsodium 1.0.18 has no HKDF API, so HKDF-SHA256 is built here from the incremental
/// `crypto_auth_hmacsha256` functions exactly as RFC 5869 describes.
public struct SodiumCryptoProvider: CryptoProvider {
    /// Initialises libsodium if needed.
    /// - Throws: ``CryptoError/libraryUnavailable`` if `sodium_init` fails.
    public init() throws(CryptoError) {
        guard sodiumInitialised else { throw CryptoError.libraryUnavailable }
    }

    // MARK: X25519

    public func x25519PublicKey(for secretKey: X25519SecretKey) throws(CryptoError) -> X25519PublicKey {
        var out = [UInt8](repeating: 0, count: X25519PublicKey.byteCount)
        let status = secretKey.secret.withUnsafeBytes { secret in
            crypto_scalarmult_base(&out, secret.bindMemory(to: UInt8.self).baseAddress!)
        }
        guard status == 0 else { throw CryptoError.invalidKey(what: "X25519 secret key") }
        return try X25519PublicKey(bytes: out)
    }

    public func x25519(_ secretKey: X25519SecretKey, _ publicKey: X25519PublicKey) throws(CryptoError) -> SecretBytes {
        var status: Int32 = 0
        let shared = SecretBytes(count: Int(crypto_scalarmult_BYTES)) { out in
            secretKey.secret.withUnsafeBytes { secret in
                status = crypto_scalarmult(
                    out.bindMemory(to: UInt8.self).baseAddress!,
                    secret.bindMemory(to: UInt8.self).baseAddress!,
                    publicKey.bytes)
            }
        }
        // libsodium returns -1 when the result is all zeroes (a small-order peer key); check the
        // bytes too, in constant time, so the refusal does not depend on that detail.
        let allZero = shared.withUnsafeBytes { sodium_is_zero($0.bindMemory(to: UInt8.self).baseAddress!, $0.count) } == 1
        guard status == 0, !allZero else { throw CryptoError.nonContributoryKeyAgreement }
        return shared
    }

    // MARK: Ed25519

    public func ed25519KeyPair(seed: SecretBytes) throws(CryptoError) -> Ed25519KeyPair {
        guard seed.count == Int(crypto_sign_SEEDBYTES) else {
            throw CryptoError.invalidLength(what: "Ed25519 seed", expected: Int(crypto_sign_SEEDBYTES), got: seed.count)
        }
        var publicBytes = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var status: Int32 = 0
        let secret = SecretBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { out in
            seed.withUnsafeBytes { seedBytes in
                status = crypto_sign_seed_keypair(
                    &publicBytes,
                    out.bindMemory(to: UInt8.self).baseAddress!,
                    seedBytes.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        guard status == 0 else { throw CryptoError.invalidKey(what: "Ed25519 seed") }
        return Ed25519KeyPair(secretKey: try Ed25519SecretKey(secret), publicKey: try Ed25519PublicKey(bytes: publicBytes))
    }

    public func sign(_ message: [UInt8], with secretKey: Ed25519SecretKey) throws(CryptoError) -> Ed25519Signature {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        let status = secretKey.secret.withUnsafeBytes { secret in
            crypto_sign_detached(&signature, nil, message, UInt64(message.count), secret.bindMemory(to: UInt8.self).baseAddress!)
        }
        guard status == 0 else { throw CryptoError.invalidKey(what: "Ed25519 secret key") }
        return try Ed25519Signature(bytes: signature)
    }

    public func verify(_ signature: Ed25519Signature, of message: [UInt8], by publicKey: Ed25519PublicKey) -> Bool {
        crypto_sign_verify_detached(signature.bytes, message, UInt64(message.count), publicKey.bytes) == 0
    }

    public func x25519PublicKey(converting publicKey: Ed25519PublicKey) throws(CryptoError) -> X25519PublicKey {
        var out = [UInt8](repeating: 0, count: X25519PublicKey.byteCount)
        guard crypto_sign_ed25519_pk_to_curve25519(&out, publicKey.bytes) == 0 else {
            throw CryptoError.invalidKey(what: "Ed25519 public key")
        }
        return try X25519PublicKey(bytes: out)
    }

    public func x25519SecretKey(converting secretKey: Ed25519SecretKey) throws(CryptoError) -> X25519SecretKey {
        var status: Int32 = 0
        let converted = SecretBytes(count: X25519SecretKey.byteCount) { out in
            secretKey.secret.withUnsafeBytes { secret in
                status = crypto_sign_ed25519_sk_to_curve25519(
                    out.bindMemory(to: UInt8.self).baseAddress!,
                    secret.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        guard status == 0 else { throw CryptoError.invalidKey(what: "Ed25519 secret key") }
        return try X25519SecretKey(converted)
    }

    // MARK: AEAD

    public func xChaCha20Poly1305Seal(
        _ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8] {
        try checkNonce(nonce, expected: Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES))
        return key.secret.withUnsafeBytes { keyBytes in
            associatedData.withUnsafeBytes { ad in
                Self.xChaChaSeal(plaintext, associatedData: ad, nonce: nonce, key: keyBytes.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
    }

    public func xChaCha20Poly1305Open(
        _ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8] {
        try checkNonce(nonce, expected: Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES))
        let opened = key.secret.withUnsafeBytes { keyBytes in
            associatedData.withUnsafeBytes { ad in
                Self.xChaChaOpen(ciphertext, associatedData: ad, nonce: nonce, key: keyBytes.bindMemory(to: UInt8.self).baseAddress!)
            }
        }
        guard let opened else { throw CryptoError.authenticationFailed }
        return opened
    }

    public func xChaCha20Poly1305Seal(
        _ plaintext: [UInt8], associatedData: UnsafeRawBufferPointer, keyAndNonce: SecretBytes
    ) throws(CryptoError) -> [UInt8] {
        try checkKeyAndNonce(keyAndNonce)
        return keyAndNonce.withUnsafeBytes { secret in
            let key = secret.bindMemory(to: UInt8.self).baseAddress!
            return Self.xChaChaSeal(plaintext, associatedData: associatedData, nonce: key + Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES), key: key)
        }
    }

    public func xChaCha20Poly1305Open(
        _ ciphertext: [UInt8], associatedData: UnsafeRawBufferPointer, keyAndNonce: SecretBytes
    ) throws(CryptoError) -> [UInt8] {
        try checkKeyAndNonce(keyAndNonce)
        let opened = keyAndNonce.withUnsafeBytes { secret in
            let key = secret.bindMemory(to: UInt8.self).baseAddress!
            return Self.xChaChaOpen(ciphertext, associatedData: associatedData, nonce: key + Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES), key: key)
        }
        guard let opened else { throw CryptoError.authenticationFailed }
        return opened
    }

    /// XChaCha20-Poly1305-IETF over a key, a nonce and associated data lent in place (lengths
    /// already checked): ciphertext || tag.
    private static func xChaChaSeal(
        _ plaintext: [UInt8], associatedData: UnsafeRawBufferPointer, nonce: UnsafePointer<UInt8>, key: UnsafePointer<UInt8>
    ) -> [UInt8] {
        let outLength = plaintext.count + Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return [UInt8](unsafeUninitializedCapacity: outLength) { out, initialised in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                out.baseAddress!, nil, plaintext, UInt64(plaintext.count),
                associatedData.bindMemory(to: UInt8.self).baseAddress, UInt64(associatedData.count), nil, nonce, key)
            initialised = outLength
        }
    }

    /// Opens what ``xChaChaSeal(_:associatedData:nonce:key:)`` sealed; nil when it does not
    /// authenticate (no bytes of it are handed back).
    private static func xChaChaOpen(
        _ ciphertext: [UInt8], associatedData: UnsafeRawBufferPointer, nonce: UnsafePointer<UInt8>, key: UnsafePointer<UInt8>
    ) -> [UInt8]? {
        let tagLength = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
        guard ciphertext.count >= tagLength else { return nil }
        let outLength = ciphertext.count - tagLength
        var status: Int32 = -1
        let out = [UInt8](unsafeUninitializedCapacity: max(outLength, 1)) { out, initialised in
            status = crypto_aead_xchacha20poly1305_ietf_decrypt(
                out.baseAddress!, nil, nil, ciphertext, UInt64(ciphertext.count),
                associatedData.bindMemory(to: UInt8.self).baseAddress, UInt64(associatedData.count), nonce, key)
            // On failure libsodium has written nothing meaningful: hand back no bytes at all.
            initialised = status == 0 ? outLength : 0
        }
        return status == 0 ? out : nil
    }

    private func checkKeyAndNonce(_ keyAndNonce: SecretBytes) throws(CryptoError) {
        let expected = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        guard keyAndNonce.count == expected else {
            throw CryptoError.invalidLength(what: "AEAD key and nonce", expected: expected, got: keyAndNonce.count)
        }
    }

    public func chaCha20Poly1305Seal(
        _ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8] {
        try checkNonce(nonce, expected: Int(crypto_aead_chacha20poly1305_ietf_NPUBBYTES))
        var out = [UInt8](repeating: 0, count: plaintext.count + Int(crypto_aead_chacha20poly1305_ietf_ABYTES))
        var outLength: UInt64 = 0
        _ = key.secret.withUnsafeBytes { keyBytes in
            crypto_aead_chacha20poly1305_ietf_encrypt(
                &out, &outLength, plaintext, UInt64(plaintext.count),
                associatedData, UInt64(associatedData.count), nil, nonce,
                keyBytes.bindMemory(to: UInt8.self).baseAddress!)
        }
        return out
    }

    public func chaCha20Poly1305Open(
        _ ciphertext: [UInt8], associatedData: [UInt8], nonce: [UInt8], key: SymmetricKey
    ) throws(CryptoError) -> [UInt8] {
        try checkNonce(nonce, expected: Int(crypto_aead_chacha20poly1305_ietf_NPUBBYTES))
        let tagLength = Int(crypto_aead_chacha20poly1305_ietf_ABYTES)
        guard ciphertext.count >= tagLength else { throw CryptoError.authenticationFailed }
        var out = [UInt8](repeating: 0, count: ciphertext.count - tagLength)
        var outLength: UInt64 = 0
        let status = key.secret.withUnsafeBytes { keyBytes in
            crypto_aead_chacha20poly1305_ietf_decrypt(
                &out, &outLength, nil, ciphertext, UInt64(ciphertext.count),
                associatedData, UInt64(associatedData.count), nonce,
                keyBytes.bindMemory(to: UInt8.self).baseAddress!)
        }
        guard status == 0 else { throw CryptoError.authenticationFailed }
        return out
    }

    private func checkNonce(_ nonce: [UInt8], expected: Int) throws(CryptoError) {
        guard nonce.count == expected else {
            throw CryptoError.invalidLength(what: "AEAD nonce", expected: expected, got: nonce.count)
        }
    }

    // MARK: Hashes, MACs and KDFs

    public func hmacSHA256(key: SecretBytes, message: [UInt8]) -> SecretBytes {
        SecretBytes(count: Int(crypto_auth_hmacsha256_BYTES)) { out in
            key.withUnsafeBytes { keyBytes in
                var state = crypto_auth_hmacsha256_state()
                crypto_auth_hmacsha256_init(&state, keyBytes.bindMemory(to: UInt8.self).baseAddress!, keyBytes.count)
                crypto_auth_hmacsha256_update(&state, message, UInt64(message.count))
                crypto_auth_hmacsha256_final(&state, out.bindMemory(to: UInt8.self).baseAddress!)
                sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
            }
        }
    }

    public func hkdfSHA256(salt: [UInt8], inputKeyMaterial: SecretBytes, info: [UInt8], length: Int) throws(CryptoError) -> SecretBytes {
        try Self.checkHKDFLength(length)
        return salt.withUnsafeBytes { hkdfSHA256(saltBytes: $0, inputKeyMaterial: inputKeyMaterial, info: info, length: length) }
    }

    public func hkdfSHA256(secretSalt: SecretBytes, inputKeyMaterial: SecretBytes, info: [UInt8], length: Int) throws(CryptoError) -> SecretBytes {
        try Self.checkHKDFLength(length)
        return secretSalt.withUnsafeBytes { hkdfSHA256(saltBytes: $0, inputKeyMaterial: inputKeyMaterial, info: info, length: length) }
    }

    private static func checkHKDFLength(_ length: Int) throws(CryptoError) {
        let allowed = 1...(255 * Int(crypto_auth_hmacsha256_BYTES))
        guard allowed.contains(length) else {
            throw CryptoError.invalidOutputLength(requested: length, allowed: allowed)
        }
    }

    /// HKDF over a salt lent in place; `length` already checked.
    ///
    /// The pseudorandom key and each expansion block live in one 64-byte scratch buffer on the
    /// stack (like the HMAC state), wiped with `sodium_memzero` before it goes out of scope; only
    /// the output is heap-allocated, in secret storage.
    private func hkdfSHA256(saltBytes salt: UnsafeRawBufferPointer, inputKeyMaterial: SecretBytes, info: [UInt8], length: Int) -> SecretBytes {
        let hashLength = Int(crypto_auth_hmacsha256_BYTES)
        return SecretBytes(count: length) { out in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * hashLength) { scratch in
                let prk = scratch.baseAddress!
                let block = prk + hashLength
                var state = crypto_auth_hmacsha256_state()
                // Extract: PRK = HMAC(salt, IKM); an empty salt means HashLen zero bytes (RFC 5869
                // 2.2). The input key material is MACed straight from secret storage, never copied
                // to an array; the salt is MACed where it lies (it may be secret storage).
                if salt.isEmpty {
                    block.initialize(repeating: 0, count: hashLength)
                    crypto_auth_hmacsha256_init(&state, block, hashLength)
                } else {
                    crypto_auth_hmacsha256_init(&state, salt.bindMemory(to: UInt8.self).baseAddress!, salt.count)
                }
                inputKeyMaterial.withUnsafeBytes { ikm in
                    _ = crypto_auth_hmacsha256_update(&state, ikm.bindMemory(to: UInt8.self).baseAddress!, UInt64(ikm.count))
                }
                crypto_auth_hmacsha256_final(&state, prk)
                // Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
                var produced = 0
                var counter: UInt8 = 1
                while produced < length {
                    crypto_auth_hmacsha256_init(&state, prk, hashLength)
                    if counter > 1 { crypto_auth_hmacsha256_update(&state, block, UInt64(hashLength)) }
                    crypto_auth_hmacsha256_update(&state, info, UInt64(info.count))
                    crypto_auth_hmacsha256_update(&state, &counter, 1)
                    crypto_auth_hmacsha256_final(&state, block)
                    let take = min(hashLength, length - produced)
                    (out.baseAddress! + produced).copyMemory(from: block, byteCount: take)
                    produced += take
                    counter &+= 1
                }
                sodium_memzero(&state, MemoryLayout<crypto_auth_hmacsha256_state>.size)
                sodium_memzero(prk, 2 * hashLength)
            }
        }
    }

    public func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        crypto_hash_sha256(&out, data, UInt64(data.count))
        return out
    }

    public func sha512(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha512_BYTES))
        crypto_hash_sha512(&out, data, UInt64(data.count))
        return out
    }

    public func blake2b(_ data: [UInt8], outputLength: Int) throws(CryptoError) -> [UInt8] {
        let allowed = Int(crypto_generichash_BYTES_MIN)...Int(crypto_generichash_BYTES_MAX)
        guard allowed.contains(outputLength) else {
            throw CryptoError.invalidOutputLength(requested: outputLength, allowed: allowed)
        }
        var out = [UInt8](repeating: 0, count: outputLength)
        crypto_generichash(&out, outputLength, data, UInt64(data.count), nil, 0)
        return out
    }

    // MARK: Argon2id

    public func argon2idHashString(password: SecretBytes, cost: Argon2Cost) throws(CryptoError) -> String {
        var out = [CChar](repeating: 0, count: Int(crypto_pwhash_STRBYTES))
        let status = password.withUnsafeBytes { bytes in
            crypto_pwhash_str_alg(
                &out, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(bytes.count),
                UInt64(cost.operations), cost.memoryBytes, crypto_pwhash_ALG_ARGON2ID13)
        }
        guard status == 0 else { throw CryptoError.passwordHashingFailed(reason: "Argon2id could not run with \(cost.operations) passes over \(cost.memoryBytes) bytes") }
        return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func argon2idVerify(hashString: String, password: SecretBytes) -> Bool {
        guard hashString.utf8.count < Int(crypto_pwhash_STRBYTES) else { return false }
        return password.withUnsafeBytes { bytes in
            crypto_pwhash_str_verify(hashString, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(bytes.count)) == 0
        }
    }

    public func argon2idNeedsRehash(hashString: String, cost: Argon2Cost) -> Bool {
        guard hashString.utf8.count < Int(crypto_pwhash_STRBYTES) else { return true }
        return crypto_pwhash_str_needs_rehash(hashString, UInt64(cost.operations), cost.memoryBytes) != 0
    }

    public func argon2idDeriveKey(password: SecretBytes, salt: [UInt8], length: Int, cost: Argon2Cost) throws(CryptoError) -> SecretBytes {
        guard salt.count == Int(crypto_pwhash_SALTBYTES) else {
            throw CryptoError.invalidLength(what: "Argon2id salt", expected: Int(crypto_pwhash_SALTBYTES), got: salt.count)
        }
        let allowed = Int(crypto_pwhash_BYTES_MIN)...1024
        guard allowed.contains(length) else { throw CryptoError.invalidOutputLength(requested: length, allowed: allowed) }
        var status: Int32 = 0
        let key = SecretBytes(count: length) { out in
            password.withUnsafeBytes { bytes in
                status = crypto_pwhash(
                    out.bindMemory(to: UInt8.self).baseAddress!, UInt64(length),
                    bytes.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(bytes.count),
                    salt, UInt64(cost.operations), cost.memoryBytes, crypto_pwhash_ALG_ARGON2ID13)
            }
        }
        guard status == 0 else { throw CryptoError.passwordHashingFailed(reason: "Argon2id could not run with \(cost.operations) passes over \(cost.memoryBytes) bytes") }
        return key
    }

    // MARK: Comparison

    /// Constant-time equality via `sodium_memcmp`; unequal lengths are unequal.
    public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        lhs.count == rhs.count && (lhs.isEmpty || sodium_memcmp(lhs, rhs, lhs.count) == 0)
    }
}
