import NIOCore
import NIOTestUtils
import Testing
@testable import TCPTransport

@Suite struct NoiseMessageDecoderTests {
    /// NIO's verifier feeds the input whole, byte by byte and in batches.
    @Test func decodesDripFedBatchedAndWhole() throws {
        func framed(_ bytes: [UInt8]) -> ByteBuffer {
            NoiseMessageDecoder.encode(bytes, allocator: ByteBufferAllocator())
        }
        let messages: [[UInt8]] = [[1, 2, 3], [], [UInt8](repeating: 7, count: 65535), [9]]
        let pairs = messages.map { (framed($0), [ByteBuffer(bytes: $0)]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { NoiseMessageDecoder() }
    }
}
