/// What a server does with each authenticated connection.
///
/// The server transport calls ``serve(_:inbound:)`` once per connection, after the Noise handshake
/// succeeded, in a task of its own, and closes the connection when the call returns. Connections
/// that fail the handshake never reach the handler. When the server shuts down, the task is
/// cancelled and `inbound` finishes, so a handler that loops over `inbound` returns promptly.
///
/// A single entry point with an `AsyncSequence` of frames (rather than per-frame callbacks) keeps
/// per-connection state in the handler's own local variables and gives back-pressure for free:
/// the transport stops reading from the socket while the handler does not consume.
public protocol FrameConnectionHandler: Sendable {
    /// Serves one connection until `inbound` ends or the handler decides to stop.
    ///
    /// - Parameters:
    ///   - connection: sends frames to the peer; knows the peer's authenticated static key.
    ///   - inbound: the frames the peer sends, in order. Iteration ends normally when the peer
    ///     closes, and throws a ``ConnectionError`` when the connection fails (protocol violation,
    ///     oversized frame, dead peer).
    func serve(_ connection: any FrameConnection, inbound: InboundFrames) async
}
