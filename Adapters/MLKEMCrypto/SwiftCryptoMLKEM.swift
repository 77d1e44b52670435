import Crypto
import Foundation
import Primitives

/// The ``KEMProvider`` port over apple/swift-crypto's `MLKEM1024` (BoringSSL's FIPS 203
/// implementation on Linux).
///
/// swift-crypto keeps a private key as its 64-byte seed and offers no deterministic
/// encapsulation; known-answer tests therefore derive keys from seeds and decapsulate ciphertexts
/// made by the independent Python implementation (`Tools/vectors`). The library's `Data` copies
/// of a seed or shared secret are outside our control (they are not wiped); ours are moved into
/// `SecretBytes` at once.
public struct SwiftCryptoMLKEM: KEMProvider {
    public init() {}

    public func mlkem1024KeyPair(seed: SecretBytes) throws(Primitives.CryptoError) -> MLKEMKeyPair {
        let secretKey = try MLKEMSecretKey(seed: seed)
        do {
            let privateKey = try privateKey(secretKey)
            return MLKEMKeyPair(publicKey: try MLKEMPublicKey(bytes: privateKey.publicKey.rawRepresentation), secretKey: secretKey)
        } catch let error as Primitives.CryptoError {
            throw error
        } catch {
            throw .invalidKey(what: "ML-KEM-1024 seed (\(error))")
        }
    }

    public func mlkem1024Encapsulate(to publicKey: MLKEMPublicKey) throws(Primitives.CryptoError) -> (ciphertext: MLKEMCiphertext, sharedSecret: SecretBytes) {
        do {
            let key = try MLKEM1024.PublicKey(rawRepresentation: publicKey.bytes)
            let result = try key.encapsulate()
            let secret = result.sharedSecret.withUnsafeBytes { SecretBytes(copying: $0) }
            return (try MLKEMCiphertext(bytes: result.encapsulated), secret)
        } catch let error as Primitives.CryptoError {
            throw error
        } catch {
            throw .invalidKey(what: "ML-KEM-1024 public key (\(error))")
        }
    }

    public func mlkem1024Decapsulate(_ ciphertext: MLKEMCiphertext, with secretKey: MLKEMSecretKey) throws(Primitives.CryptoError) -> SecretBytes {
        do {
            let shared = try privateKey(secretKey).decapsulate(ciphertext.bytes)
            return shared.withUnsafeBytes { SecretBytes(copying: $0) }
        } catch let error as Primitives.CryptoError {
            throw error
        } catch {
            throw .invalidKey(what: "ML-KEM-1024 decapsulation (\(error))")
        }
    }

    private func privateKey(_ secretKey: MLKEMSecretKey) throws -> MLKEM1024.PrivateKey {
        try secretKey.seed.withUnsafeBytes { seed in
            try MLKEM1024.PrivateKey(seedRepresentation: Data(seed), publicKey: nil)
        }
    }
}
