import Testing
@testable import SecureChannel

/// The frame codec fed whole, drip-fed one byte at a time, and batched at awkward cuts (after
/// NIO's `ByteToMessageDecoderVerifier`).
@Suite struct FrameAssemblerTests {
    static let frames: [[UInt8]] = [
        Array("first".utf8),
        [],
        [UInt8](repeating: 0xAB, count: 70_000),
        [0x00],
        Array("last frame".utf8),
    ]

    static func encode(_ frames: [[UInt8]]) -> [UInt8] {
        frames.flatMap { frame in
            let length = UInt32(frame.count)
            return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + frame
        }
    }

    @Test func wholeStreamInOneChunk() throws {
        var assembler = FrameAssembler()
        #expect(try assembler.append(Self.encode(Self.frames)) == Self.frames)
        #expect(!assembler.isMidFrame)
    }

    @Test func dripFedByteByByte() throws {
        var assembler = FrameAssembler()
        var received: [[UInt8]] = []
        for byte in Self.encode(Self.frames) {
            received += try assembler.append([byte])
        }
        #expect(received == Self.frames)
    }

    @Test func batchedAtEveryChunkSize() throws {
        let stream = Self.encode(Self.frames)
        for chunkSize in [2, 3, 4, 5, 7, 1000, 65519] {
            var assembler = FrameAssembler()
            var received: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                received += try assembler.append(stream[offset..<end])
                offset = end
            }
            #expect(received == Self.frames, "chunk size \(chunkSize)")
        }
    }

    @Test func oversizedDeclaredLengthIsRefusedFromThePrefixAlone() throws {
        var assembler = FrameAssembler(maxFrameBytes: 1024)
        #expect(try assembler.append([0, 0, 4]) == [])
        #expect(throws: FrameError.frameTooLarge(length: 1025, limit: 1024)) { _ = try assembler.append([1]) }
        // Poisoned: the stream has no boundary to resume from.
        #expect(throws: FrameError.frameTooLarge(length: 1025, limit: 1024)) { _ = try assembler.append([0, 0, 0, 1, 9]) }
    }

    @Test func defaultLimitIsSixteenMebibytes() throws {
        var assembler = FrameAssembler()
        #expect(assembler.maxFrameBytes == 16 << 20)
        #expect(throws: FrameError.frameTooLarge(length: Int(UInt32.max), limit: 16 << 20)) {
            _ = try assembler.append([0xff, 0xff, 0xff, 0xff])
        }
        var exact = FrameAssembler()
        #expect(try exact.append([0x01, 0x00, 0x00, 0x00]) == [])
        #expect(exact.isMidFrame)
    }
}
