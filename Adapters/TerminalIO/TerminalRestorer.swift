#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Primitives

/// The process-wide list of terminals currently switched out of their original mode, so that a
/// terminating signal or `exit` puts them back even while a `readLine` is waiting.
///
/// A ``LineEditor`` registers its terminal when it enters raw (or no-echo) mode and unregisters it
/// when it leaves, so the list holds only terminals that really need restoring. The first
/// registration installs handlers for SIGINT, SIGTERM and SIGHUP and an `atexit` hook.
///
/// The handlers chain: after restoring, a signal whose previous disposition was the default is
/// re-raised with the default (so the process still dies of it, with the right status); a previous
/// handler is called; an ignored signal stays ignored. Signals that were ignored when the handlers
/// were installed (`nohup`) are left alone. A library that installs its own handler later (for
/// example swift-service-lifecycle's graceful shutdown) replaces ours; the editor then still
/// restores the terminal when its reading task is cancelled and at exit.
enum TerminalRestorer {
    struct Entry {
        let owner: Int
        let fd: Int32
        let original: termios
    }

    /// Guarded for normal code; the signal handler only *tries* the lock (see ``restoreAll()``).
    private static let entries = LockedValue<[Entry]>([])
    private static let installation: Void = installHandlers()

    static func register(owner: Int, fd: Int32, original: termios) {
        _ = installation
        entries.withLock { list in
            list.removeAll { $0.owner == owner }
            list.append(Entry(owner: owner, fd: fd, original: original))
        }
    }

    static func unregister(owner: Int) {
        entries.withLock { list in list.removeAll { $0.owner == owner } }
    }

    /// Puts every registered terminal back. Safe to call from a signal handler in practice: it takes
    /// the lock only if free (a handler that interrupted a thread holding it would otherwise
    /// deadlock; that thread is mid-register, a window of a few instructions), does not allocate,
    /// and `tcsetattr` is async-signal-safe.
    static func restoreAll() {
        _ = entries.withLockIfAvailable { list in
            for entry in list {
                var original = entry.original
                _ = tcsetattr(entry.fd, TCSANOW, &original)
            }
        }
    }

    private static func installHandlers() {
        atexit { TerminalRestorer.restoreAll() }
        for (slot, signal) in handledSignals.enumerated() {
            var previous = sigaction()
            guard sigaction(signal, nil, &previous) == 0, !isIgnored(previous) else { continue }
            previousActions[slot] = previous
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = handleTerminatingSignal
            action.sa_flags = SA_SIGINFO
            sigemptyset(&action.sa_mask)
            _ = sigaction(signal, &action, nil)
        }
    }
}

private let handledSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

/// What each handled signal did before; written once under `swift_once` before any handler can run.
nonisolated(unsafe) private let previousActions: UnsafeMutablePointer<sigaction> = {
    let storage = UnsafeMutablePointer<sigaction>.allocate(capacity: 3)
    storage.initialize(repeating: sigaction(), count: 3)
    return storage
}()

private func isIgnored(_ action: sigaction) -> Bool {
    guard action.sa_flags & SA_SIGINFO == 0, let handler = action.__sigaction_handler.sa_handler else { return false }
    return unsafeBitCast(handler, to: Int.self) == 1  // SIG_IGN
}

private func handleTerminatingSignal(
    _ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?
) {
    TerminalRestorer.restoreAll()
    guard let slot = handledSignals.firstIndex(of: signal) else { return }
    var previous = previousActions[slot]
    if previous.sa_flags & SA_SIGINFO != 0, let chained = previous.__sigaction_handler.sa_sigaction {
        chained(signal, info, context)
    } else if let chained = previous.__sigaction_handler.sa_handler {
        if unsafeBitCast(chained, to: Int.self) != 1 { chained(signal) }  // not SIG_IGN
    } else {
        // SIG_DFL: reinstate it and re-raise; the signal is blocked inside this handler, so it is
        // delivered (and terminates the process with the right status) as soon as we return.
        _ = sigaction(signal, &previous, nil)
        _ = raise(signal)
    }
}
