import Primitives

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Seals and opens the client database's records, and computes the keyed hashes its lookups use.
///
/// Holds only subkeys derived from the data key with HKDF-SHA256 under distinct `info` labels; the
/// data key itself is dropped once they are derived. A leaked lookup subkey therefore reveals
/// nothing about the sealing key, and the hashes of one kind (peers) cannot be compared with those
/// of another (message ids).
///
/// A sealed blob is `format (1) || nonce (24) || XChaCha20-Poly1305 ciphertext and tag`. The
/// associated data binds the blob to its table and to the row's lookup hashes, so a blob copied to
/// another row or table fails to open, exactly as a flipped bit does. Nonces are random: 192 bits
/// make collisions negligible for any number of records a phone will ever write, which is why
/// XChaCha rather than ChaCha20's 96-bit nonce (a counter would have to be stored and could be
/// rolled back with the file).
struct ClientRecordCipher: Sendable {
    /// Which lookup a keyed hash is for; each has its own subkey.
    enum Index: String, CaseIterable {
        case peer = "parley-client peer index"
        case message = "parley-client message index"
        case prekey = "parley-client prekey index"
        case setting = "parley-client setting index"
    }

    /// A table of sealed records: its label is bound into each blob's associated data.
    enum Table: String {
        case identity, signedPrekeys = "signed_prekeys", oneTimePrekeys = "one_time_prekeys"
        case sessions, contacts, history, settings
        case sentLog = "sent_log"
        case kemPrekeys = "kem_prekeys"
        case eventLog = "event_log"
    }

    static let sealingInfo = "parley-client record sealing"
    static let format: UInt8 = 1
    static let nonceByteCount = 24
    static let tagByteCount = 16
    static let lookupByteCount = 32

    private let crypto: any CryptoProvider
    private let random: any RandomSource
    private let sealingKey: SymmetricKey
    private let peerIndexKey: SecretBytes
    private let messageIndexKey: SecretBytes
    private let prekeyIndexKey: SecretBytes
    private let settingIndexKey: SecretBytes

    init(dataKey: SecretBytes, crypto: any CryptoProvider, random: any RandomSource) throws(CryptoError) {
        func derive(_ info: String) throws(CryptoError) -> SecretBytes {
            try crypto.hkdfSHA256(salt: [], inputKeyMaterial: dataKey, info: Array(info.utf8), length: 32)
        }
        self.crypto = crypto
        self.random = random
        sealingKey = try SymmetricKey(derive(Self.sealingInfo))
        peerIndexKey = try derive(Index.peer.rawValue)
        messageIndexKey = try derive(Index.message.rawValue)
        prekeyIndexKey = try derive(Index.prekey.rawValue)
        settingIndexKey = try derive(Index.setting.rawValue)
    }

    // MARK: Lookups

    /// The keyed hash stored in place of `value` for an equality lookup. Not secret once stored,
    /// so it leaves secret storage.
    func lookup(_ index: Index, _ value: [UInt8]) -> [UInt8] {
        let key: SecretBytes
        switch index {
        case .peer: key = peerIndexKey
        case .message: key = messageIndexKey
        case .prekey: key = prekeyIndexKey
        case .setting: key = settingIndexKey
        }
        return crypto.hmacSHA256(key: key, message: value).unsafeExportBytes()
    }

    func peerLookup(_ peer: Username) -> [UInt8] { lookup(.peer, Array(peer.value.utf8)) }

    func prekeyLookup(_ id: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: 4)
        writer.write(id)
        return lookup(.prekey, writer.bytes)
    }

    /// An ML-KEM prekey's lookup: the prekey index over "kem" || id, so it never equals an X25519
    /// prekey's lookup of the same id.
    func kemPrekeyLookup(_ id: UInt32) -> [UInt8] {
        var writer = ByteWriter(capacity: 7)
        writer.writeRaw(Array("kem".utf8))
        writer.write(id)
        return lookup(.prekey, writer.bytes)
    }

    // MARK: Sealing

    /// Seals `plaintext` for a row of `table` identified by `lookups`, then wipes `plaintext`.
    /// - Throws: `StoreError.unavailable` if the AEAD refuses (it cannot with valid lengths).
    func seal(_ plaintext: inout [UInt8], table: Table, lookups: [[UInt8]]) throws(StoreError) -> [UInt8] {
        defer { wipe(&plaintext) }
        let nonce = random.bytes(count: Self.nonceByteCount)
        let ciphertext: [UInt8]
        do {
            ciphertext = try crypto.xChaCha20Poly1305Seal(
                plaintext, associatedData: Self.associatedData(table: table, lookups: lookups), nonce: nonce, key: sealingKey)
        } catch {
            throw .unavailable("cannot seal a \(table.rawValue) record: \(error)")
        }
        return [Self.format] + nonce + ciphertext
    }

    /// Seals secret bytes (a serialised session) without keeping an unwiped copy.
    func seal(_ secret: SecretBytes, table: Table, lookups: [[UInt8]]) throws(StoreError) -> [UInt8] {
        var plaintext = secret.unsafeExportBytes()
        return try seal(&plaintext, table: table, lookups: lookups)
    }

    /// Opens a blob sealed for the same table and lookups. The caller wipes the result.
    /// - Throws: `StoreError.corrupt` when the blob is malformed, was tampered with, or was moved
    ///   from another row or table (the cases are indistinguishable on purpose).
    func open(_ sealed: [UInt8], table: Table, lookups: [[UInt8]]) throws(StoreError) -> [UInt8] {
        let headerCount = 1 + Self.nonceByteCount
        guard sealed.count >= headerCount + Self.tagByteCount else {
            throw .corrupt("a sealed \(table.rawValue) record is truncated (\(sealed.count) bytes)")
        }
        guard sealed[0] == Self.format else {
            throw .corrupt("a sealed \(table.rawValue) record has unknown format \(sealed[0])")
        }
        do {
            return try crypto.xChaCha20Poly1305Open(
                Array(sealed[headerCount...]), associatedData: Self.associatedData(table: table, lookups: lookups),
                nonce: Array(sealed[1..<headerCount]), key: sealingKey)
        } catch {
            throw .corrupt("a sealed \(table.rawValue) record fails authentication (tampered, or moved from another row)")
        }
    }

    /// Opens a blob and decodes it, wiping the plaintext afterwards and reporting a record that
    /// authenticates but does not decode (a format bug, or a newer build's record) as corruption.
    func openRecord<T>(
        _ sealed: [UInt8], table: Table, lookups: [[UInt8]], _ decode: ([UInt8]) throws(DecodingError) -> T
    ) throws(StoreError) -> T {
        var plaintext = try open(sealed, table: table, lookups: lookups)
        defer { wipe(&plaintext) }
        do {
            return try decode(plaintext)
        } catch {
            throw .corrupt("a sealed \(table.rawValue) record does not decode: \(error)")
        }
    }

    /// `"parley-client record v1" || table || each lookup`, every field length-prefixed so that no
    /// two different bindings produce the same bytes.
    static func associatedData(table: Table, lookups: [[UInt8]]) -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + lookups.count * 36)
        writer.writeString("parley-client record")
        writer.write(format)
        writer.writeString(table.rawValue)
        writer.write(UInt32(lookups.count))
        for lookup in lookups { writer.writeVariable(lookup) }
        return writer.bytes
    }
}

/// Overwrites a plaintext buffer in place. `explicit_bzero` (as `SecretBytes` uses) so that the
/// compiler cannot drop the stores to a buffer that is about to be freed.
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        #if canImport(Darwin)
        _ = memset_s(base, buffer.count, 0, buffer.count)
        #else
        explicit_bzero(base, buffer.count)
        #endif
    }
}
