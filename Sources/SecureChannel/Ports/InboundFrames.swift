/// The frames arriving on one connection, as an asynchronous sequence.
///
/// Iterate it once. It ends (returns nil) when the peer closes the connection or the consuming task
/// is cancelled, and throws a ``ConnectionError`` when the connection fails. Transports build it
/// over their own buffered, back-pressured stream; the type erases which one so that the
/// application never sees the networking library.
public struct InboundFrames: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    private let makeNext: @Sendable () -> (() async throws -> [UInt8]?)

    /// Wraps any sequence of frames. `translateError` maps the base sequence's errors to
    /// ``ConnectionError`` (an adapter's own errors must not leak).
    public init<Base: AsyncSequence & Sendable>(
        _ base: Base,
        translateError: @escaping @Sendable (any Error) -> ConnectionError
    ) where Base.Element == [UInt8] {
        makeNext = {
            let box = IteratorBox(base.makeAsyncIterator())
            return {
                do {
                    return try await box.next()
                } catch let error as ConnectionError {
                    throw error
                } catch {
                    throw translateError(error)
                }
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(next: makeNext())
    }

    /// Yields frames in arrival order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let next: () async throws -> [UInt8]?

        /// The next frame, or nil at the end.
        /// - Throws: ``ConnectionError``.
        public mutating func next() async throws -> [UInt8]? {
            try await next()
        }
    }

    /// Holds the base iterator so the non-escaping `mutating next()` can be called from a closure.
    private final class IteratorBox<Iterator: AsyncIteratorProtocol> where Iterator.Element == [UInt8] {
        private var iterator: Iterator
        init(_ iterator: Iterator) { self.iterator = iterator }
        func next() async throws -> [UInt8]? { try await iterator.next() }
    }
}
