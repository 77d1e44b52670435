import Primitives
import SQLiteStore

/// The client store's record decoders (`ClientRecordCoding`, through the public
/// ``ClientRecordLayout`` door): what a stolen or corrupted database hands back to the client
/// after the AEAD (a hostile database with the key, or a bug in an older build). The first input
/// byte picks the layout.
///
/// Property: a record that decodes re-encodes to exactly its bytes (up to a username's A-Z read
/// as a-z), and the re-encoding decodes and re-encodes to itself, so a load and save never changes
/// a record.
public enum ClientRecordProperty {
    public static let target = FuzzTarget(name: "client-records", check: check, seeds: seeds)

    static func check(_ input: [UInt8]) throws(PropertyViolation) {
        var cursor = InputCursor(input)
        let layout = ClientRecordLayout.allCases[Int(cursor.byte()) % ClientRecordLayout.allCases.count]
        let record = cursor.rest()
        guard let reencoded = try? layout.reencode(record) else { return }
        try require(equalUpToUsernameCase(record, reencoded), "\(layout) re-encodes to different bytes")
        try require((try? layout.reencode(reencoded)) == reencoded, "\(layout) re-encoding is not a fixed point")
    }

    /// Records laid out by hand as ``ClientRecordCoding`` writes them, then passed through the
    /// real encoder (``ClientRecordLayout/reencode(_:)``), so each seed is the encoder's output.
    static func seeds() -> [[UInt8]] {
        func record(_ build: (inout ByteWriter) -> Void) -> [UInt8] {
            var writer = ByteWriter()
            writer.write(UInt8(1))
            build(&writer)
            return writer.bytes
        }
        let content: [UInt8] = [1] + Array(repeating: 3, count: 16) + [0, 0, 0, 0, 0, 0, 3, 0xE8, 1, 0, 0, 0, 2] + Array("hi".utf8)
        let raw: [(ClientRecordLayout, [UInt8])] = [
            (.identity, record { $0.writeRaw(key(1) + key(2)); $0.writeRaw(key(3)) }),
            (.signedPrekey, record { $0.write(UInt32(7)); $0.writeRaw(key(1)); $0.writeRaw(key(2)); $0.writeRaw(key(3) + key(4)); $0.write(Int64(1000)) }),
            (.oneTimePrekey, record { $0.write(UInt32(100)); $0.writeRaw(key(1)); $0.writeRaw(key(2)) }),
            (.contact, record { $0.writeString("bob"); $0.writeRaw(key(5)); $0.write(UInt8(1)); $0.write(true); $0.write(false) }),
            (.historyEntry, record {
                $0.writeRaw(Array(repeating: 4, count: 16)); $0.writeString("bob"); $0.write(UInt8(2)); $0.write(UInt8(1)); $0.writeString("hello")
                $0.write(Int64(1)); $0.write(Int64(2)); $0.write(UInt8(3)); $0.write(false)
            }),
            (.historyEntry, record {
                $0.writeRaw(Array(repeating: 5, count: 16)); $0.writeString("bob"); $0.write(UInt8(1)); $0.write(UInt8(3))
                $0.writeRaw(Array(repeating: 6, count: 16)); $0.writeRaw(key(7))
                $0.write(UInt32(2)); $0.write(UInt32(3)); $0.write(Int64(1)); $0.write(Int64(2)); $0.write(UInt8(1)); $0.write(true)
            }),
            (.setting, record { $0.writeString("theme"); $0.writeVariable(Array("dark".utf8)) }),
            (.sentMessage, record {
                $0.writeString("bob"); $0.writeVariable(content); $0.write(UInt64(9)); $0.write(Int64(10)); $0.write(Int64(11)); $0.write(UInt8(1)); $0.write(true)
            }),
        ]
        return raw.map { layout, bytes in
            fixture { () throws(DecodingError) in [layout.rawValue] + (try layout.reencode(bytes)) }
        }
    }
}
