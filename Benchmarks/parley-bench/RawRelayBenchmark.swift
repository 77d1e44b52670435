import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Benchmark 8 (`raw-relay`): the ceiling the relay is compared with: a plain SwiftNIO relay in
/// this process, no Noise, no wire codec, no store, no Swift concurrency. `pairs` recipient and
/// `pairs` sender connections over loopback; a sender keeps `inFlight` frames of `frameBytes`
/// (u16-length-prefixed) outstanding; the server forwards each frame to its pair's recipient and
/// answers the sender with a 1-byte frame, which lets the sender send the next; writes are
/// flushed once per read burst (`channelReadComplete`). Counted: frames received by recipients in
/// the window. The target for the real relay is >= 0.15 of this rate, in the same run.
struct RawRelayBenchmark {
    var pairs = 64
    var inFlight = 256
    var frameBytes = 300
    var warmup: Duration = .seconds(1)
    var duration: Duration = .seconds(5)
    var runs = 3

    func run() async throws -> [Double] {
        Report.heading("8. raw NIO relay (the ceiling): \(pairs) pairs, \(inFlight) frames of \(frameBytes) B in flight per sender, "
            + "\(Report.fixed(Measurement.seconds(duration), 1)) s after \(Report.fixed(Measurement.seconds(warmup), 1)) s, \(runs) runs")
        var rates: [Double] = []
        for index in 0..<runs {
            let rate = try await once()
            rates.append(rate)
            emit("  run \(index + 1): \(Report.fixed(rate, 0)) frames/s delivered")
        }
        emit("  => median \(Report.fixed(Measurement.median(rates), 0)) frames/s")
        return rates
    }

    private func once() async throws -> Double {
        let group = MultiThreadedEventLoopGroup.singleton
        let registry = RawRelayRegistry()
        let delivered = Counter()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(U16FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RawRelayServerHandler(registry: registry))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress!.port!
        let frame = [UInt8](repeating: 0x5a, count: frameBytes)
        var clients: [any Channel] = []
        func connect(_ handler: @escaping @Sendable () -> any ChannelHandler) async throws -> any Channel {
            try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(U16FrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(handler())
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        }
        for pair in 0..<pairs {
            clients.append(try await connect { RawRecipientHandler(pair: pair, delivered: delivered) })
        }
        while registry.count < pairs { try await Task.sleep(for: .milliseconds(5)) }
        let inFlight = self.inFlight
        // All at once: each sender starts sending as it connects, and connected one after the
        // other the later ones waited behind the saturated event loops (64 s in a debug build).
        try await withThrowingTaskGroup(of: (any Channel).self) { group in
            for pair in 0..<pairs {
                group.addTask { try await connect { RawSenderHandler(pair: pair, frame: frame, inFlight: inFlight) } }
            }
            for try await channel in group { clients.append(channel) }
        }
        try await Task.sleep(for: warmup)
        let start = delivered.current
        let started = Measurement.clock.now
        try await Task.sleep(for: duration)
        let end = delivered.current
        let elapsed = Measurement.seconds(Measurement.clock.now - started)
        // All at once: closed one by one, each close waited behind the still-saturated event
        // loops (44 s for 128 connections in a debug build).
        let closes = clients.map { $0.close() }
        try? await EventLoopFuture.andAllComplete(closes, on: group.next()).get()
        try? await server.close()
        return Double(end - start) / elapsed
    }
}

/// Recipients by pair index, for the server's handlers.
final class RawRelayRegistry: Sendable {
    private let recipients = NIOLockedValueBox<[Int: any Channel]>([:])
    var count: Int { recipients.withLockedValue { $0.count } }
    func register(_ channel: any Channel, pair: Int) { recipients.withLockedValue { $0[pair] = channel } }
    func recipient(_ pair: Int) -> (any Channel)? { recipients.withLockedValue { $0[pair] } }
}

/// u16 big-endian length-prefixed frames.
struct U16FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
              buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: Int(length))!))
        return .continue
    }
}

extension ByteBuffer {
    /// `bytes` with a u16 length prefix.
    static func frame(_ bytes: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: bytes.count + 2)
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
        return buffer
    }
}

/// The server side: the first frame says who the connection is (role byte, pair as u16); then a
/// sender's frames go to its recipient and each is answered with a 1-byte frame. Writes to the
/// sender are flushed once per read burst; forwarded frames once per burst per recipient.
final class RawRelayServerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let registry: RawRelayRegistry
    private var recipient: (any Channel)?
    private var identified = false
    private var pendingForward: [ByteBuffer] = []
    private var answered = false

    init(registry: RawRelayRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard identified else {
            identified = true
            let role = frame.readInteger(as: UInt8.self) ?? 0
            let pair = Int(frame.readInteger(as: UInt16.self) ?? 0)
            if role == 1 { registry.register(context.channel, pair: pair) } else { recipient = registry.recipient(pair) }
            return
        }
        guard recipient != nil else { return }
        pendingForward.append(ByteBuffer.frame(frame.readableBytesView, allocator: context.channel.allocator))
        context.write(wrapOutboundOut(ByteBuffer.frame([1], allocator: context.channel.allocator)), promise: nil)
        answered = true
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if answered {
            answered = false
            context.flush()
        }
        guard let recipient, !pendingForward.isEmpty else { return }
        let frames = pendingForward
        pendingForward = []
        recipient.eventLoop.execute {
            for frame in frames { recipient.write(frame, promise: nil) }
            recipient.flush()
        }
    }

    typealias OutboundOut = ByteBuffer
}

/// A recipient: says who it is, then counts the frames it receives.
final class RawRecipientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let pair: Int
    private let delivered: Counter

    init(pair: Int, delivered: Counter) {
        self.pair = pair
        self.delivered = delivered
    }

    func channelActive(context: ChannelHandlerContext) {
        var hello = context.channel.allocator.buffer(capacity: 5)
        hello.writeInteger(UInt16(3))
        hello.writeInteger(UInt8(1))
        hello.writeInteger(UInt16(pair))
        context.writeAndFlush(NIOAny(hello), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        delivered.add()
    }
}

/// A sender: says who it is, sends `inFlight` frames, and one more for each answer.
final class RawSenderHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let pair: Int
    private let frame: [UInt8]
    private let inFlight: Int
    private var owed = 0

    init(pair: Int, frame: [UInt8], inFlight: Int) {
        self.pair = pair
        self.frame = frame
        self.inFlight = inFlight
    }

    func channelActive(context: ChannelHandlerContext) {
        var hello = context.channel.allocator.buffer(capacity: 5)
        hello.writeInteger(UInt16(3))
        hello.writeInteger(UInt8(0))
        hello.writeInteger(UInt16(pair))
        context.write(NIOAny(hello), promise: nil)
        for _ in 0..<inFlight { context.write(NIOAny(ByteBuffer.frame(frame, allocator: context.channel.allocator)), promise: nil) }
        context.flush()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owed += 1
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard owed > 0 else { return }
        for _ in 0..<owed { context.write(NIOAny(ByteBuffer.frame(frame, allocator: context.channel.allocator)), promise: nil) }
        owed = 0
        context.flush()
    }
}
