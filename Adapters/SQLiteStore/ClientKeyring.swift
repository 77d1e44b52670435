import Primitives

/// The keyring: the database's random data key, sealed under a key derived from the account
/// password.
///
/// Two levels rather than sealing records under the password-derived key directly, so that a
/// password change rewraps 32 bytes instead of re-sealing every record, and so that the expensive
/// Argon2id runs once per open rather than per record.
///
/// Layout of the one `keyring` row: `format`, the Argon2id salt (16 random bytes) and cost (so a
/// later open derives the same key, whatever the build's default), a random 24-byte nonce, and the
/// wrapped key (XChaCha20-Poly1305 of the 32-byte data key). The associated data binds the label,
/// the application id and every KDF parameter, so a keyring edited on disk fails to unwrap.
struct ClientKeyring: Sendable {
    static let format: Int64 = 1
    static let dataKeyByteCount = 32
    static let label = "parley-client keyring"

    var salt: [UInt8]
    var cost: Argon2Cost
    var nonce: [UInt8]
    var wrappedKey: [UInt8]

    /// A new keyring wrapping `dataKey` under `password`, with a fresh salt and nonce.
    static func wrap(
        _ dataKey: SecretBytes, password: SecretBytes, cost: Argon2Cost, crypto: any CryptoProvider, random: any RandomSource
    ) throws(ClientStoreError) -> ClientKeyring {
        try SQLiteClientStore.Limits.check(cost)
        let salt = random.bytes(count: Argon2Cost.saltByteCount)
        let nonce = random.bytes(count: ClientRecordCipher.nonceByteCount)
        let wrappingKey = try deriveWrappingKey(password: password, salt: salt, cost: cost, crypto: crypto)
        var plaintext = dataKey.unsafeExportBytes()
        defer { wipe(&plaintext) }
        do {
            let wrapped = try crypto.xChaCha20Poly1305Seal(
                plaintext, associatedData: associatedData(salt: salt, cost: cost), nonce: nonce, key: wrappingKey)
            return ClientKeyring(salt: salt, cost: cost, nonce: nonce, wrappedKey: wrapped)
        } catch {
            throw .unavailable("cannot wrap the data key: \(error)")
        }
    }

    /// The data key, if `password` is the one it was wrapped under.
    /// - Throws: ``ClientStoreError/wrongPassword`` when the unwrap fails authentication;
    ///   ``ClientStoreError/corrupt(_:)`` for a malformed row (checked first, before any Argon2id
    ///   run, so a hostile cost cannot make the open allocate gigabytes).
    func unwrap(password: SecretBytes, crypto: any CryptoProvider) throws(ClientStoreError) -> SecretBytes {
        let wrappingKey = try Self.deriveWrappingKey(password: password, salt: salt, cost: cost, crypto: crypto)
        var plaintext: [UInt8]
        do {
            plaintext = try crypto.xChaCha20Poly1305Open(
                wrappedKey, associatedData: Self.associatedData(salt: salt, cost: cost), nonce: nonce, key: wrappingKey)
        } catch {
            throw .wrongPassword
        }
        defer { wipe(&plaintext) }
        guard plaintext.count == Self.dataKeyByteCount else {
            throw .corrupt("the keyring holds a \(plaintext.count)-byte data key, expected \(Self.dataKeyByteCount)")
        }
        return SecretBytes(copying: plaintext)
    }

    /// Validates a keyring row read from disk.
    init(format: Int64, salt: [UInt8], operations: Int64, memoryBytes: Int64, nonce: [UInt8], wrappedKey: [UInt8]) throws(ClientStoreError) {
        guard format == Self.format else { throw .corrupt("the keyring has unknown format \(format)") }
        guard salt.count == Argon2Cost.saltByteCount else { throw .corrupt("the keyring salt has \(salt.count) bytes") }
        guard nonce.count == ClientRecordCipher.nonceByteCount else { throw .corrupt("the keyring nonce has \(nonce.count) bytes") }
        guard wrappedKey.count == Self.dataKeyByteCount + ClientRecordCipher.tagByteCount else {
            throw .corrupt("the wrapped data key has \(wrappedKey.count) bytes")
        }
        guard let operations = Int(exactly: operations), let memoryBytes = Int(exactly: memoryBytes) else {
            throw .corrupt("the keyring's Argon2id cost is out of range")
        }
        let cost = Argon2Cost(operations: operations, memoryBytes: memoryBytes)
        do { try SQLiteClientStore.Limits.check(cost) } catch { throw .corrupt("the keyring's \(error)") }
        self.init(salt: salt, cost: cost, nonce: nonce, wrappedKey: wrappedKey)
    }

    private init(salt: [UInt8], cost: Argon2Cost, nonce: [UInt8], wrappedKey: [UInt8]) {
        self.salt = salt
        self.cost = cost
        self.nonce = nonce
        self.wrappedKey = wrappedKey
    }

    private static func deriveWrappingKey(
        password: SecretBytes, salt: [UInt8], cost: Argon2Cost, crypto: any CryptoProvider
    ) throws(ClientStoreError) -> SymmetricKey {
        do {
            return try SymmetricKey(crypto.argon2idDeriveKey(password: password, salt: salt, length: SymmetricKey.byteCount, cost: cost))
        } catch {
            throw .keyDerivationFailed("\(error)")
        }
    }

    /// `label || application id || format || salt || operations || memory`, length-prefixed.
    private static func associatedData(salt: [UInt8], cost: Argon2Cost) -> [UInt8] {
        var writer = ByteWriter(capacity: 96)
        writer.writeString(label)
        writer.write(UInt32(bitPattern: SQLiteClientStore.applicationID))
        writer.write(UInt64(format))
        writer.writeVariable(salt)
        writer.write(UInt64(cost.operations))
        writer.write(UInt64(cost.memoryBytes))
        return writer.bytes
    }
}
