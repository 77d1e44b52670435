import Primitives
import Testing

@Suite("LockedValue")
struct LockedValueTests {
    @Test("concurrent withLock calls never lose an update")
    func concurrentIncrementsAllLand() async {
        let counter = LockedValue(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for _ in 0..<10_000 { counter.withLock { $0 += 1 } } }
            }
        }
        #expect(counter.withLock { $0 } == 80_000)
    }

    @Test("a throwing body releases the lock and leaves its changes")
    func throwingBodyReleasesTheLock() {
        struct Refused: Error {}
        let value = LockedValue([1])
        #expect(throws: Refused.self) {
            try value.withLock { (list: inout [Int]) throws(Refused) in
                list.append(2)
                throw Refused()
            }
        }
        #expect(value.withLock { $0 } == [1, 2])
    }

    @Test("withLockIfAvailable runs when the lock is free and gives up while it is held")
    func withLockIfAvailableDoesNotWait() {
        let value = LockedValue(0)
        #expect(value.withLockIfAvailable { $0 += 1; return $0 } == 1)
        let inner = value.withLock { _ in value.withLockIfAvailable { $0 } }
        #expect(inner == nil)
    }

    @Test("a non-Sendable value can be protected, as with Synchronization.Mutex")
    func nonSendableValue() {
        final class Box { var count = 0 }
        let locked = LockedValue(Box())
        locked.withLock { $0.count += 1 }
        #expect(locked.withLock { $0.count } == 1)
    }
}
