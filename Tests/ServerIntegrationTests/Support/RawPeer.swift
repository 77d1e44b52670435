import NIOCore
import NIOPosix
import Primitives
import SecureChannel

/// A plain TCP client that speaks whatever bytes a test tells it to: garbage, a broken handshake,
/// a correct handshake by hand followed by a hostile frame, or nothing at all.
struct RawPeer: Sendable {
    /// How a hostile connection ended.
    struct Closed: Sendable {
        /// Bytes the server sent before closing.
        let bytesReceived: Int
    }

    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func connect(port: Int) async throws -> RawPeer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawPeer(channel: channel)
    }

    /// Runs `script` over the connection, then reads until the server closes it; the caller bounds
    /// the whole with a deadline. A reset counts as closed.
    func run(_ script: (inout RawStream) async throws -> Void) async throws -> Closed {
        try await channel.executeThenClose { inbound, outbound in
            var stream = RawStream(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            try await script(&stream)
            return Closed(bytesReceived: await stream.readUntilClosed())
        }
    }
}

/// The byte stream of a ``RawPeer``, with the Noise framing (u16 big-endian lengths) at hand.
struct RawStream {
    struct ClosedEarly: Error {}

    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var buffer = ByteBuffer()
    var received = 0

    func write(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Writes one Noise message with its length prefix.
    func writeNoiseMessage(_ message: [UInt8]) async throws {
        try await write([UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message)
    }

    /// Reads one length-prefixed Noise message.
    mutating func readNoiseMessage() async throws -> [UInt8] {
        while true {
            if let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self), buffer.readableBytes >= 2 + Int(length) {
                buffer.moveReaderIndex(forwardBy: 2)
                return buffer.readBytes(length: Int(length)) ?? []
            }
            guard var more = try await inbound.next() else { throw ClosedEarly() }
            received += more.readableBytes
            buffer.writeBuffer(&more)
        }
    }

    /// Reads until end of stream (or a reset) and returns how many bytes arrived in all.
    mutating func readUntilClosed() async -> Int {
        do {
            while let more = try await inbound.next() { received += more.readableBytes }
        } catch {
            // A reset is a close too.
        }
        return received
    }
}

/// A Noise XX initiator driven by hand over a ``RawStream``: the same handshake a real client runs,
/// so that what follows it reaches the server's frame layer.
struct ManualNoiseSession {
    private var transport: NoiseTransport
    private var assembler = FrameAssembler()

    /// Runs the three handshake messages.
    static func handshake(over stream: inout RawStream, environment: IntegrationEnvironment) async throws -> ManualNoiseSession {
        var handshake = try HandshakeState(role: .initiator, localStatic: try environment.keyPair(), crypto: environment.crypto, random: environment.random)
        try await stream.writeNoiseMessage(try handshake.writeMessage())
        _ = try handshake.readMessage(try await stream.readNoiseMessage())
        try await stream.writeNoiseMessage(try handshake.writeMessage())
        return ManualNoiseSession(transport: try handshake.split())
    }

    private init(transport: NoiseTransport) {
        self.transport = transport
    }

    /// Encrypts `plaintext` as one transport message: the decrypted stream is whatever the test
    /// writes, so it can declare any frame length.
    mutating func sendStreamBytes(_ plaintext: [UInt8], over stream: RawStream) async throws {
        try await stream.writeNoiseMessage(try transport.encrypt(plaintext))
    }

    /// Sends one well-formed application frame.
    mutating func send(frame: [UInt8], over stream: RawStream) async throws {
        let length = UInt32(frame.count)
        try await sendStreamBytes([UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + frame, over: stream)
    }

    /// Reads the next non-empty application frame.
    mutating func receiveFrame(over stream: inout RawStream) async throws -> [UInt8] {
        while true {
            let frames = try assembler.append(try transport.decrypt(try await stream.readNoiseMessage()))
            if let frame = frames.first(where: { !$0.isEmpty }) { return frame }
        }
    }
}
