#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small, EINTR-safe wrappers over `poll`, `read` and `write`.
enum FileDescriptorIO {
    /// Writes all of `text`. Gives up silently when the descriptor fails for good (a terminal that
    /// hung up): there is nobody left to show the text to, and the editor must not crash over it.
    static func send(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in writeAll(bytes, to: fd) }
    }

    static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>, to fd: Int32) {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = write(fd, next, remaining)
            if written > 0 {
                next += written
                remaining -= written
            } else if written < 0, errno == EINTR {
                continue
            } else if written < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                // Someone made the descriptor non-blocking: wait until it drains, but not forever.
                var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard poll(&descriptor, 1, 1000) > 0 else { return }
            } else {
                return
            }
        }
    }

    /// Why ``waitForInput(_:wake:timeoutMilliseconds:)`` returned.
    enum Readiness {
        /// `fd` has data, end of file or an error: a `read` will not block.
        case readable
        /// The wake pipe was written: a stop was requested.
        case woken
        case timedOut
    }

    /// Waits until `fd` can be read or the wake pipe is written; `timeoutMilliseconds` -1 waits forever.
    static func waitForInput(_ fd: Int32, wake: Int32, timeoutMilliseconds: Int32) -> Readiness {
        var descriptors = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake, events: Int16(POLLIN), revents: 0),  // poll ignores a negative fd
        ]
        while true {
            let ready = poll(&descriptors, 2, timeoutMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                return .readable  // let `read` report the error
            }
            if ready == 0 { return .timedOut }
            if descriptors[1].revents != 0 { return .woken }
            return .readable
        }
    }

    /// One `read`, retried on EINTR. Returns the byte count, 0 at end of file, nil on EAGAIN (nothing
    /// there after all), or -1 on an error that ends input (EIO once a terminal hangs up).
    static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            return -1
        }
    }
}

/// A self-pipe that interrupts a blocked `poll` in the reading thread, so that cancelling the
/// reading task or calling ``LineEditor/restore()`` ends a read at once, with no polling interval.
final class WakePipe: Sendable {
    let readEnd: Int32
    private let writeEnd: Int32

    /// With no pipe (descriptors exhausted) both ends are -1; the reader then polls with a timeout.
    var isAvailable: Bool { readEnd >= 0 }

    init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            // `pipe2` is not visible without _GNU_SOURCE; set the flags one by one. Non-blocking so
            // that waking twice or draining an empty pipe never blocks; close-on-exec so a child
            // process does not inherit it.
            for end in ends {
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            }
            readEnd = ends[0]
            writeEnd = ends[1]
        } else {
            readEnd = -1
            writeEnd = -1
        }
    }

    deinit {
        if readEnd >= 0 { close(readEnd) }
        if writeEnd >= 0 { close(writeEnd) }
    }

    func wake() {
        guard writeEnd >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)  // EAGAIN means a wake is already pending: fine
    }

    func drain() {
        guard readEnd >= 0 else { return }
        var scratch = [UInt8](repeating: 0, count: 64)
        while read(readEnd, &scratch, scratch.count) > 0 {}
    }
}
