import Testing

@testable import PortenNode

/// A load waits for the unloads the tunnel read before it, and only for those.
@Suite(.timeLimit(.minutes(1)))
struct PendingUnloadsTests {
    private actor Events {
        var list: [String] = []
        func add(_ event: String) { list.append(event) }
    }

    @Test func aLoadStartsOnlyOnceTheUnloadsReadBeforeItHaveFinished() async {
        let unloads = PendingUnloads()
        let events = Events()
        let first = unloads.begin("m")
        let second = unloads.begin("m")
        let mark = unloads.mark()
        async let load: Void = {
            await unloads.wait(for: mark)
            await events.add("load")
        }()
        // They finish out of order, slower than the load would start without waiting.
        try? await Task.sleep(for: .milliseconds(50))
        await events.add("unloaded second")
        unloads.end(second)
        try? await Task.sleep(for: .milliseconds(50))
        await events.add("unloaded first")
        unloads.end(first)
        await load
        #expect(await events.list == ["unloaded second", "unloaded first", "load"])
    }

    @Test func aLoadDoesNotWaitForUnloadsReadAfterIt() async {
        let unloads = PendingUnloads()
        let before = unloads.begin("m")
        unloads.end(before)
        let mark = unloads.mark()
        let after = unloads.begin("m")
        await unloads.wait(for: mark)  // returns although `after` runs on
        unloads.end(after)
        await unloads.wait(for: unloads.mark())
    }

    @Test func everyWaitingLoadIsReleasedWhenItsUnloadsEnd() async {
        let unloads = PendingUnloads()
        let first = unloads.begin("m")
        let early = unloads.mark()
        let second = unloads.begin("m")
        let late = unloads.mark()
        let events = Events()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await unloads.wait(for: late)
                await events.add("late load")
            }
            group.addTask {
                await unloads.wait(for: early)
                await events.add("early load")
                unloads.end(second)
            }
            try? await Task.sleep(for: .milliseconds(50))
            await events.add("unloaded first")
            unloads.end(first)
        }
        #expect(await events.list == ["unloaded first", "early load", "late load"])
    }

    @Test func aLoadWhoseModelIsUnloadedAfterItWasReadIsCalledOff() {
        let unloads = PendingUnloads()
        _ = unloads.begin("a")
        let mark = unloads.mark()
        #expect(!unloads.unloaded("a", since: mark))  // unloaded before the load: it makes room
        _ = unloads.begin("b")
        #expect(!unloads.unloaded("a", since: mark))
        _ = unloads.begin("a")
        #expect(unloads.unloaded("a", since: mark))
        #expect(!unloads.unloaded("a", since: unloads.mark()))
    }
}
