import Primitives
import SodiumCrypto
import Testing

/// Argon2id password hashing and key derivation. Uses the minimum cost: these tests check
/// behaviour, not strength.
@Suite("Argon2id")
struct Argon2Tests {
    @Test("hash string round trip; a wrong password fails")
    func hashAndVerify() throws {
        let password = SecretBytes(copying: Array("correct horse battery staple".utf8))
        let hash = try crypto.argon2idHashString(password: password, cost: .minimum)
        #expect(hash.hasPrefix("$argon2id$v=19$m=8,t=1,p=1$"))
        #expect(crypto.argon2idVerify(hashString: hash, password: password))
        #expect(!crypto.argon2idVerify(hashString: hash, password: SecretBytes(copying: Array("correct horse battery stapler".utf8))))
        #expect(!crypto.argon2idVerify(hashString: "not a hash", password: password))
        // Salted: the same password hashes differently each time.
        #expect(try crypto.argon2idHashString(password: password, cost: .minimum) != hash)
    }

    @Test("needs-rehash tells a hash made with other parameters")
    func needsRehash() throws {
        let hash = try crypto.argon2idHashString(password: SecretBytes(copying: [1, 2, 3]), cost: .minimum)
        #expect(!crypto.argon2idNeedsRehash(hashString: hash, cost: .minimum))
        #expect(crypto.argon2idNeedsRehash(hashString: hash, cost: Argon2Cost(operations: 2, memoryBytes: 8192)))
    }

    /// The known answer from the Argon2 reference implementation (phc-winner-argon2, by RFC 9106's
    /// authors: `src/test.c`, Argon2id, version 0x13). RFC 9106's own vector (section 5.3) cannot
    /// run through libsodium: it uses four lanes, a secret key and associated data, none of which
    /// `crypto_pwhash` accepts. Verifying the reference hash string makes libsodium recompute the
    /// tag from the string's parameters and compare it.
    @Test("a hash string from the Argon2 reference implementation verifies, and only for its password")
    func referenceImplementationVector() throws {
        let reference = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
        #expect(crypto.argon2idVerify(hashString: reference, password: SecretBytes(copying: Array("password".utf8))))
        #expect(!crypto.argon2idVerify(hashString: reference, password: SecretBytes(copying: Array("passwore".utf8))))
        // One character of the tag changed: the recomputed tag no longer matches.
        let altered = String(reference.dropLast()) + "d"
        #expect(!crypto.argon2idVerify(hashString: altered, password: SecretBytes(copying: Array("password".utf8))))
    }

    @Test("key derivation is deterministic in password and salt, and matches libsodium's Argon2id")
    func deriveKey() throws {
        let salt = [UInt8](repeating: 0x42, count: 16)
        let password = SecretBytes(copying: Array("password".utf8))
        let one = try crypto.argon2idDeriveKey(password: password, salt: salt, length: 32, cost: .minimum)
        let two = try crypto.argon2idDeriveKey(password: password, salt: salt, length: 32, cost: .minimum)
        #expect(one == two)
        let otherSalt = try crypto.argon2idDeriveKey(password: password, salt: [UInt8](repeating: 0x43, count: 16), length: 32, cost: .minimum)
        #expect(one != otherSalt)
        // A regression value, not an independent answer: PyNaCl is libsodium too
        // (nacl.pwhash.argon2id.kdf(32, b"password", b"B"*16, opslimit=1, memlimit=8192)). The
        // independent known answer is `referenceImplementationVector`.
        #expect(one.unsafeExportBytes() == hex("16d76b7a84354c9756ae56e7da4bf4b8895942228893ed9e3ab9f7d26f5eb94f"))
        #expect(throws: CryptoError.invalidLength(what: "Argon2id salt", expected: 16, got: 8)) {
            try crypto.argon2idDeriveKey(password: password, salt: [UInt8](repeating: 0, count: 8), length: 32, cost: .minimum)
        }
    }
}
