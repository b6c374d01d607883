import PortenHub
import Testing

/// The admission queue's order: first in, first out per key, keys served in turn.
struct FairQueueTests {
    private func queue(_ arrivals: [(key: String, id: Int)]) -> FairQueue<Int> {
        var queue = FairQueue<Int>()
        for arrival in arrivals { queue.enqueue(arrival.id, id: arrival.id, key: arrival.key) }
        return queue
    }

    private func drain(_ queue: inout FairQueue<Int>, where accepts: (Int) -> Bool = { _ in true }) -> [Int] {
        var served: [Int] = []
        while let next = queue.dequeue(where: accepts) { served.append(next) }
        return served
    }

    @Test func aBurstOfOneKeyDoesNotStarveAnother() {
        // Key a queues ten requests, then b one: b is served second, not eleventh.
        var queue = queue((1...10).map { ("a", $0) } + [("b", 11)])
        #expect(drain(&queue) == [1, 11, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(queue.isEmpty && queue.count == 0)
    }

    @Test func keysTakeTurnsInTheOrderTheyArrived() {
        var queue = queue([("a", 1), ("a", 2), ("b", 3), ("c", 4), ("b", 5), ("c", 6)])
        #expect(drain(&queue) == [1, 3, 4, 2, 5, 6])
    }

    @Test func aSlotGoesToTheFirstKeyThatMayUseIt() {
        // Odd requests may not use this node (another key's policy): b's oldest is taken; a keeps its turn.
        var queue = queue([("a", 1), ("b", 2), ("a", 3), ("b", 4)])
        #expect(queue.dequeue(where: { $0 % 2 == 0 }) == 2)
        #expect(drain(&queue) == [1, 4, 3])
    }

    @Test func removedRequestsLeaveNoTrace() {
        var queue = queue([("a", 1), ("b", 2), ("a", 3)])
        #expect(queue.remove(id: 2) == 2 && queue.remove(id: 2) == nil && queue.count == 2)
        #expect(queue.remove(id: 1) == 1)
        #expect(drain(&queue) == [3])
    }
}
