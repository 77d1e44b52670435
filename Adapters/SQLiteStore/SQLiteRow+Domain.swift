import Primitives

/// Reading domain values back out of rows. A stored value that no longer satisfies its type's
/// rules (a name that is not a valid `Username`, a key of the wrong length) can only come from a
/// file altered outside Parley, so it is reported as corruption.
extension SQLiteRow {
    func username(_ column: Int32) throws(StoreError) -> Username {
        let raw = try text(column)
        do { return try Username(raw) } catch { throw .corrupt("stored username is invalid: \(error)") }
    }

    func timestamp(_ column: Int32) throws(StoreError) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: try integer(column))
    }

    func optionalTimestamp(_ column: Int32) throws(StoreError) -> Timestamp? {
        try optionalInteger(column).map(Timestamp.init(millisecondsSinceEpoch:))
    }

    func uint32(_ column: Int32) throws(StoreError) -> UInt32 {
        let value = try integer(column)
        guard let exact = UInt32(exactly: value) else { throw .corrupt("stored id \(value) is not a 32-bit id") }
        return exact
    }

    func envelopeID(_ column: Int32) throws(StoreError) -> UInt64 {
        let value = try integer(column)
        guard let exact = UInt64(exactly: value), exact > 0 else { throw .corrupt("stored envelope id \(value) is not positive") }
        return exact
    }

    /// Decodes a fixed-length key or signature, turning a length error into corruption.
    func decoded<T>(_ column: Int32, _ make: ([UInt8]) throws(CryptoError) -> T) throws(StoreError) -> T {
        let bytes = try blob(column)
        do { return try make(bytes) } catch { throw .corrupt("stored key material is invalid: \(error)") }
    }
}

extension SQLiteValue {
    static func username(_ username: Username) -> SQLiteValue { .text(username.value) }
    static func timestamp(_ timestamp: Timestamp?) -> SQLiteValue {
        timestamp.map { .integer($0.millisecondsSinceEpoch) } ?? .null
    }
}
