import Primitives

/// The client's plaintext record layouts (``ClientRecordCoding``), opened to the fuzz targets in
/// `Fuzz/` and to their replay test (`Tests/FuzzReplayTests`): decode one record and write the
/// decoded value back.
///
/// Why a public door rather than `@testable import`: the fuzz package compiles this module in its
/// own build, and a property check that needs `-enable-testing` would silently stop building in a
/// release or sanitizer configuration. The door exposes no secret-handling API beyond what a
/// record's own bytes already hold, and no store: the sealing (``ClientRecordCipher``) stays
/// internal.
public enum ClientRecordLayout: UInt8, CaseIterable, Sendable {
    case identity = 0, signedPrekey, oneTimePrekey, contact, historyEntry, setting, sentMessage, kemPrekey

    /// Decodes `bytes` as this layout and returns the encoding of the decoded value.
    /// - Throws: ``DecodingError`` exactly when the store would refuse the record.
    public func reencode(_ bytes: [UInt8]) throws(DecodingError) -> [UInt8] {
        switch self {
        case .identity: return ClientRecordCoding.encode(try ClientRecordCoding.decodeIdentity(bytes))
        case .signedPrekey: return ClientRecordCoding.encode(try ClientRecordCoding.decodeSignedPrekey(bytes))
        case .oneTimePrekey: return ClientRecordCoding.encode(try ClientRecordCoding.decodeOneTimePrekey(bytes))
        case .contact: return ClientRecordCoding.encode(try ClientRecordCoding.decodeContact(bytes))
        case .historyEntry: return ClientRecordCoding.encode(try ClientRecordCoding.decodeHistoryEntry(bytes))
        case .setting:
            let setting = try ClientRecordCoding.decodeSetting(bytes)
            return ClientRecordCoding.encodeSetting(key: setting.key, value: setting.value)
        case .sentMessage: return ClientRecordCoding.encode(try ClientRecordCoding.decodeSentMessage(bytes))
        case .kemPrekey: return ClientRecordCoding.encode(try ClientRecordCoding.decodeKEMPrekey(bytes))
        }
    }
}
