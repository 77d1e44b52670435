#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The size of the terminal on `fd` (`TIOCGWINSZ`), or nil when `fd` is not a terminal or the
/// terminal does not know its size (a fresh pseudo-terminal reports 0 × 0).
///
/// Asked afresh on each call rather than cached with a SIGWINCH handler: an `ioctl` per redraw is
/// cheap, and it keeps the process's signal handling free of one more handler.
public func terminalSize(_ fd: Int32) -> (columns: Int, rows: Int)? {
    var size = winsize()
    guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return (columns: Int(size.ws_col), rows: Int(size.ws_row))
}
