#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// termios settings: reading them, applying them, and deriving the modes the editor uses.
enum TerminalMode {
    /// The terminal's current settings, or nil when `fd` is not a terminal.
    static func current(_ fd: Int32) -> termios? {
        var settings = termios()
        return tcgetattr(fd, &settings) == 0 ? settings : nil
    }

    /// Applies settings immediately. `TCSANOW` rather than `TCSAFLUSH`, so keys typed ahead are
    /// kept, and rather than `TCSADRAIN`, which would block while a stalled reader (a pseudo-terminal
    /// master nobody drains) holds output.
    @discardableResult
    static func apply(_ settings: termios, to fd: Int32) -> Bool {
        var settings = settings
        while tcsetattr(fd, TCSANOW, &settings) != 0 {
            guard errno == EINTR else { return false }
        }
        return true
    }

    /// Raw input for the line editor: bytes one at a time, no echo, no line discipline editing,
    /// Ctrl-C/Ctrl-Z/Ctrl-S as plain bytes. Output processing (`OPOST`, so `\n` becomes `\r\n`) is
    /// kept on, unlike `cfmakeraw`, so that whatever else the program prints while a prompt is
    /// showing still starts its lines at the left margin.
    static func raw(from original: termios) -> termios {
        var settings = original
        settings.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        settings.c_cflag |= tcflag_t(CS8)
        settings.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        withUnsafeMutableBytes(of: &settings.c_cc) { controlCharacters in
            controlCharacters[Int(VMIN)] = 1
            controlCharacters[Int(VTIME)] = 0
        }
        return settings
    }

    /// Canonical input without echo, for a password typed on a terminal whose output is redirected:
    /// the line discipline still edits the line; `ECHONL` echoes only the final newline.
    static func noEcho(from original: termios) -> termios {
        var settings = original
        settings.c_lflag &= ~tcflag_t(ECHO)
        settings.c_lflag |= tcflag_t(ECHONL)
        return settings
    }
}
