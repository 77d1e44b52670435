#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value reachable only while holding a lock: Parley's mutex, built on `pthread_mutex_t`.
///
/// The API is `Synchronization.Mutex`'s (`withLock`, with the same `sending` rules, so a
/// non-`Sendable` value can be protected and the protected value is `Sendable` whatever it holds),
/// but the lock is a pthread mutex because ThreadSanitizer intercepts `pthread_mutex_lock` and
/// `pthread_mutex_unlock`. On Linux, `Synchronization.Mutex` waits on a futex that TSan does not
/// see, so every access inside its `withLock` was reported as a race (and a real race against a
/// locked access could not be told from those). Rejected alternatives: suppressing those reports
/// (it hides real races), and NIO's `NIOLockedValueBox` (a domain module may not import NIO).
///
/// The mutex and the value live in memory of their own, allocated once in `init` and freed in
/// `deinit`: a `pthread_mutex_t` must not move once initialised, so it cannot live inline in a
/// copyable or movable value. The lock is not recursive: calling `withLock` again from inside
/// `body` on the same instance deadlocks (debug builds use an error-checking mutex, which traps).
public final class LockedValue<Value>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline let value: UnsafeMutablePointer<Value>

    /// Wraps `initialValue`; from now on it is reached only through `withLock`.
    public init(_ initialValue: consuming sending Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        #if DEBUG
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ERRORCHECK))
        #endif
        let status = pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
        value = .allocate(capacity: 1)
        value.initialize(to: initialValue)
    }

    deinit {
        value.deinitialize(count: 1)
        value.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value and returns what it returns; the lock is
    /// released however `body` ends (return or throw). `body` must not call `withLock` on this
    /// instance again.
    @inlinable
    public func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let locked = pthread_mutex_lock(mutex)
        precondition(locked == 0, "pthread_mutex_lock failed: \(locked)")
        defer {
            let unlocked = pthread_mutex_unlock(mutex)
            precondition(unlocked == 0, "pthread_mutex_unlock failed: \(unlocked)")
        }
        return try body(&value.pointee)
    }

    /// Runs `body` like `withLock` if the lock is free right now, and returns nil without
    /// waiting if it is held (`pthread_mutex_trylock`): for paths that must never block, such as
    /// restoring the terminal on the way out.
    @inlinable
    public func withLockIfAvailable<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer {
            let unlocked = pthread_mutex_unlock(mutex)
            precondition(unlocked == 0, "pthread_mutex_unlock failed: \(unlocked)")
        }
        return try body(&value.pointee)
    }
}
