import Primitives

/// The server's view of one authenticated, encrypted connection when the connection is driven by
/// events on a serial context of its own (on TCP, the channel's event loop) instead of by a task
/// that loops over its frames.
///
/// Declared here so that the server application is written against this port and not against a
/// networking library; `TCPTransport` implements it over a SwiftNIO channel, tests over a serial
/// queue. It is the model of NIOSSH's `SSHConnectionStateMachine` driven from its channel handler:
/// the connection's state lives in a ``FrameEventReceiver`` that only its context touches, so an
/// idle connection costs its state and nothing else: no task, no stream, no actor.
///
/// Threading: ``execute(_:)`` may be called from any thread. Every other member may be called only
/// on the connection's context: inside a ``FrameEventReceiver`` callback or a block passed to
/// ``execute(_:)``.
///
/// Writes are not flushed one by one: whatever is written during one callback or one executed
/// block is flushed together when it returns (on TCP: NIO's write coalescing, one `writev` for a
/// burst of answers).
public protocol FrameEventConnection: AnyObject, Sendable {
    /// A process-local id for logs.
    var id: ConnectionID { get }

    /// The peer's static X25519 public key, proved during the handshake.
    var remoteStaticKey: X25519PublicKey { get }

    /// The Noise handshake hash, equal on both ends.
    var handshakeHash: [UInt8] { get }

    /// Where the peer connects from, for per-address limits; nil when the transport has no such
    /// notion.
    var remoteAddress: SourceAddress? { get }

    /// Runs `work` on the connection's context, after whatever runs there now. Callable from any
    /// thread; after the connection has closed the work still runs (so that a result coming back
    /// from another thread always finds the receiver and can see that it is closed).
    func execute(_ work: @escaping @Sendable () -> Void)

    /// Runs `work` on the context after `delay` unless cancelled first; for timers such as the
    /// login deadline. Context only.
    func schedule(after delay: Duration, _ work: @escaping @Sendable () -> Void) -> ScheduledWork

    /// Queues one application frame (1 byte up to ``ChannelLimits/maxFrameBytes``); it goes out
    /// with the flush at the end of the current callback. Frames written after the connection
    /// closed are dropped. Context only.
    func write(_ frame: [UInt8])

    /// Whether the peer is reading: false while more than ``ChannelLimits/outboundHighWaterMark``
    /// bytes wait for the socket. A receiver that stops taking frames while this is false keeps
    /// a slow reader from making the server buffer without bound. Context only.
    var isWritable: Bool { get }

    /// Tells the transport that the receiver takes frames again (``FrameEventReceiver/wantsFrames``
    /// turned true outside a ``FrameEventReceiver/received(_:)`` call): frames held meanwhile are
    /// handed over and reading from the socket resumes. Context only; harmless when nothing is held.
    func resumeReading()

    /// Lifts (true) or restores (false) the small inbound frame limit a server-side connection
    /// starts with; applies to every frame whose first byte arrives later. Context only.
    func allowLargeInboundFrames(_ allowed: Bool)

    /// Closes the connection; the receiver then hears ``FrameEventReceiver/closed()``. Idempotent.
    /// Context only.
    func close()
}

/// The server application's per-connection state machine, fed by the transport on the
/// connection's context. Nothing calls it concurrently, so it needs no lock of its own for what
/// only the context touches.
public protocol FrameEventReceiver: AnyObject {
    /// Whether the receiver takes another frame now. While false the transport holds the frames
    /// that arrive (within ``ChannelLimits/inboundFrameBuffer`` and the server's inbound byte
    /// budget) and stops reading from the socket; the receiver calls
    /// ``FrameEventConnection/resumeReading()`` once it turns true again.
    var wantsFrames: Bool { get }

    /// One frame from the peer, in order. Called only while ``wantsFrames`` is true.
    func received(_ frame: [UInt8])

    /// The connection's writability changed (see ``FrameEventConnection/isWritable``).
    func writabilityChanged(_ isWritable: Bool)

    /// The connection has closed: the peer left, it failed, or ``FrameEventConnection/close()``
    /// was called. Called once; the receiver gets nothing but executed blocks afterwards.
    func closed()
}

/// What a server does with each authenticated connection, when connections are driven by events.
///
/// The transport calls ``accept(_:)`` once per connection, on its context, after the Noise
/// handshake succeeded; connections that fail the handshake never reach the handler.
public protocol FrameEventHandler: Sendable {
    /// Makes the state machine of a new connection.
    func accept(_ connection: any FrameEventConnection) -> any FrameEventReceiver
}

/// A timer set with ``FrameEventConnection/schedule(after:_:)``.
public struct ScheduledWork: Sendable {
    private let cancelWork: @Sendable () -> Void

    public init(cancel: @escaping @Sendable () -> Void) {
        cancelWork = cancel
    }

    /// Stops the work from running if it has not started.
    public func cancel() { cancelWork() }
}
