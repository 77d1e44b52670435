import Primitives
import Testing

/// ``DrainQueue``: exactly one drainer per turn, items in order, and a turn that ends only on an
/// empty take (so nothing appended meanwhile is stranded).
@Suite("Drain queue")
struct DrainQueueTests {
    @Test("the first append of a turn starts the drainer; later ones only queue")
    func oneDrainerPerTurn() {
        var queue = DrainQueue<Int>()
        let first = queue.append(1)
        let second = queue.append(2)
        let claimed = queue.claim()
        #expect(first && !second && !claimed)
        let batch = queue.take()
        #expect(batch == [1, 2])
        // Appended while the drainer works: still its job, nobody else is told to start.
        let third = queue.append(3)
        let next = queue.take()
        #expect(!third && next == [3] && queue.isDraining)
        let last = queue.take()
        #expect(last.isEmpty && !queue.isDraining)
        let fourth = queue.append(4)
        #expect(fourth)
    }

    @Test("take(upTo:) hands out batches in order and keeps the rest")
    func batches() {
        var queue = DrainQueue<Int>()
        for item in 0..<5 { _ = queue.append(item) }
        var taken: [[Int]] = []
        for limit in [2, 2, 0, 2] { taken.append(queue.take(upTo: limit)) }
        #expect(taken == [[0, 1], [2, 3], [4], []])
        #expect(!queue.isDraining)
    }

    @Test("items queued with starting held back wait for claim(); reset drops them and the turn")
    func heldBackAndReset() {
        var queue = DrainQueue<String>()
        let a = queue.append("a", startAllowed: false)
        let b = queue.append("b", startAllowed: false)
        #expect(!a && !b && !queue.isDraining)
        let claimed = queue.claim()
        let again = queue.claim()
        #expect(claimed && !again)
        queue.reset()
        #expect(queue.isEmpty && !queue.isDraining)
        let afterReset = queue.claim()
        let c = queue.append("c")
        #expect(!afterReset && c)
    }
}
