import Primitives

/// A small sealed key-value store for the client application's own state (its username, the next
/// prekey ids); vended by ``SQLiteClientStore``.
///
/// Keys are stored only as keyed hashes and values are sealed, like every other record, so the
/// file does not even say which settings exist. Not a port: only the client's composition root
/// uses it, so its methods throw `StoreError` with a typed `throws`.
public struct SQLiteClientSettings: Sendable {
    private let database: SQLiteScope
    private let cipher: ClientRecordCipher

    init(database: SQLiteScope, cipher: ClientRecordCipher) {
        self.database = database
        self.cipher = cipher
    }

    /// Stores `bytes` under `key`, replacing any previous value.
    /// - Throws: `StoreError.limitReached` for a key or value beyond ``SQLiteClientStore/Limits``;
    ///   `StoreError.unavailable` when the file cannot be written.
    public func setValue(_ bytes: [UInt8], forKey key: String) throws(StoreError) {
        try Self.check(key: key)
        guard bytes.count <= SQLiteClientStore.Limits.maxSettingValueBytes else {
            throw .limitReached("a setting of \(bytes.count) bytes exceeds \(SQLiteClientStore.Limits.maxSettingValueBytes)")
        }
        let keyHash = cipher.lookup(.setting, Array(key.utf8))
        var plaintext = ClientRecordCoding.encodeSetting(key: key, value: bytes)
        let sealed = try cipher.seal(&plaintext, table: .settings, lookups: [keyHash])
        try database.withConnection { connection throws(StoreError) in
            try connection.execute(
                "INSERT INTO settings (key_hash, sealed) VALUES (?, ?) ON CONFLICT (key_hash) DO UPDATE SET sealed = excluded.sealed",
                [.blob(keyHash), .blob(sealed)])
        }
    }

    /// The value stored under `key`, if any.
    /// - Throws: `StoreError.corrupt` for a record that fails authentication or is filed under
    ///   another key; `StoreError.limitReached` for an over-long key.
    public func value(forKey key: String) throws(StoreError) -> [UInt8]? {
        try Self.check(key: key)
        let keyHash = cipher.lookup(.setting, Array(key.utf8))
        let sealed = try database.withConnection { connection throws(StoreError) in
            try connection.queryFirst("SELECT sealed FROM settings WHERE key_hash = ?", [.blob(keyHash)]) { row throws(StoreError) in
                try row.blob(0)
            }
        }
        guard let sealed else { return nil }
        let setting = try cipher.openRecord(sealed, table: .settings, lookups: [keyHash], ClientRecordCoding.decodeSetting)
        guard setting.key == key else { throw .corrupt("the setting filed under \(key.debugDescription) is another one") }
        return setting.value
    }

    /// Deletes the value under `key`; nothing happens if there is none.
    public func removeValue(forKey key: String) throws(StoreError) {
        try Self.check(key: key)
        let keyHash = cipher.lookup(.setting, Array(key.utf8))
        try database.withConnection { connection throws(StoreError) in
            try connection.execute("DELETE FROM settings WHERE key_hash = ?", [.blob(keyHash)])
        }
    }

    private static func check(key: String) throws(StoreError) {
        guard key.utf8.count <= SQLiteClientStore.Limits.maxSettingKeyBytes else {
            throw .limitReached("a setting key of \(key.utf8.count) bytes exceeds \(SQLiteClientStore.Limits.maxSettingKeyBytes)")
        }
    }
}
