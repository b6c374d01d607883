/// Requests waiting for one model, fair across API keys: each key has its own first-in first-out
/// lane, and the lanes are served in turn, so one key's burst cannot starve another key.
public struct FairQueue<Element>: Sendable where Element: Sendable {
    private struct Entry: Sendable {
        var id: Int
        var element: Element
    }

    private var lanes: [String: [Entry]] = [:]
    /// Keys with someone waiting, the next to be served first.
    private var turn: [String] = []
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    /// Queues `element` (known as `id`) behind the key's earlier requests.
    public mutating func enqueue(_ element: Element, id: Int, key: String) {
        if lanes[key] == nil { turn.append(key) }
        lanes[key, default: []].append(Entry(id: id, element: element))
        count += 1
    }

    /// Takes out the element `id` (its client left, or its budget ran out).
    public mutating func remove(id: Int) -> Element? {
        for (key, lane) in lanes {
            guard let index = lane.firstIndex(where: { $0.id == id }) else { continue }
            let element = lanes[key]!.remove(at: index).element
            count -= 1
            if lanes[key]!.isEmpty { drop(key) }
            return element
        }
        return nil
    }

    /// Takes out the first element, in the keys' turn, that `accepts` — the oldest of its key; the
    /// key it came from moves to the back of the turn. Keys whose oldest element is not accepted
    /// keep their place.
    public mutating func dequeue(where accepts: (Element) -> Bool) -> Element? {
        for (position, key) in turn.enumerated() {
            guard let first = lanes[key]?.first, accepts(first.element) else { continue }
            lanes[key]!.removeFirst()
            count -= 1
            turn.remove(at: position)
            if lanes[key]!.isEmpty { lanes[key] = nil } else { turn.append(key) }
            return first.element
        }
        return nil
    }

    /// Every element, lane by lane in the keys' turn (for reports and for waking everyone).
    public var elements: [Element] { turn.flatMap { lanes[$0]!.map(\.element) } }

    private mutating func drop(_ key: String) {
        lanes[key] = nil
        turn.removeAll { $0 == key }
    }
}
