import Primitives

/// Counts logged-in sessions on this node (for logs, metrics and tests).
final class SessionCounter: Sendable {
    private let value = LockedValue(0)
    func add(_ delta: Int) { value.withLock { $0 += delta } }
    var current: Int { value.withLock { $0 } }
}
