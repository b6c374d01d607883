import OpenAIWire
import Testing

@testable import PortenHub

/// The waits a request can pause and take up again (``Routing``): a node's events, a queue
/// ticket's outcome. A wait that times out takes nothing and keeps the request's place.
struct PausableWaitTests {
    private static func event(_ n: Int) -> NodeEvent { .embeddings([[Float(n)]]) }

    // MARK: EventChannel

    @Test func aWaitThatTimesOutTakesNothing() async throws {
        let events = EventChannel()
        #expect(await events.ready(within: .milliseconds(30)) == false)
        events.yield(Self.event(1))
        #expect(await events.ready(within: .milliseconds(30)))
        #expect(await events.ready(within: .zero))  // still there: readiness takes nothing
        #expect(try await events.next() == Self.event(1))
        #expect(await events.ready(within: .milliseconds(30)) == false)
        events.finish()
        #expect(await events.ready(within: .seconds(5)))
        #expect(try await events.next() == nil)
    }

    @Test func aWaitingReaderIsWokenByTheNextEvent() async throws {
        let events = EventChannel()
        async let read = events.next()
        try await Task.sleep(for: .milliseconds(30))
        events.yield(Self.event(7))
        #expect(try await read == Self.event(7))
    }

    @Test func eventsBeforeAFailureAreReadFirstAndNothingComesAfterIt() async throws {
        let events = EventChannel()
        events.yield(Self.event(1))
        events.yield(Self.event(2))
        events.finish(throwing: .nodeError("gone"))
        events.yield(Self.event(3))
        events.finish()
        #expect(try await events.next() == Self.event(1))
        #expect(try await events.next() == Self.event(2))
        await #expect(throws: APIError.nodeError("gone")) { try await events.next() }
    }

    @Test func eventsAlreadyInAreTakenWithoutWaitingAndTheEndIsLeftToNext() async throws {
        let events = EventChannel()
        #expect(events.nextIfReady() == nil)
        events.yield(Self.event(1))
        events.yield(Self.event(2))
        events.finish(throwing: .nodeError("gone"))
        #expect(events.nextIfReady() == Self.event(1))
        #expect(events.nextIfReady() == Self.event(2))
        #expect(events.nextIfReady() == nil)
        await #expect(throws: APIError.nodeError("gone")) { try await events.next() }
    }

    @Test func aReaderThatLagsReadsEveryEventInOrder() async throws {
        let events = EventChannel()
        var read: [NodeEvent] = []
        for n in 0..<100 { events.yield(Self.event(n)) }
        for _ in 0..<70 { read.append(try #require(try await events.next())) }
        for n in 100..<250 { events.yield(Self.event(n)) }
        events.finish()
        while let event = try await events.next() { read.append(event) }
        #expect(read == (0..<250).map(Self.event))
    }

    @Test func aCancelledReadEndsTheAnswer() async throws {
        let events = EventChannel()
        let reader = Task { try await events.next() }
        try await Task.sleep(for: .milliseconds(30))
        reader.cancel()
        #expect(try await reader.value == nil)
        let waiter = Task { await events.ready(within: .seconds(30)) }
        waiter.cancel()
        #expect(await waiter.value == false)
    }

    // MARK: Mailbox

    @Test func aMailboxKeepsTheFirstValueForWhoeverWaitsNext() async {
        let mailbox = Mailbox<Int>()
        #expect(await mailbox.value(within: .milliseconds(30)) == nil)
        async let waiting = mailbox.value(within: .seconds(30))
        try? await Task.sleep(for: .milliseconds(30))
        mailbox.deliver(1)
        mailbox.deliver(2)
        #expect(await waiting == 1)
        #expect(await mailbox.value(within: .zero) == 1)
        #expect(await mailbox.value() == 1)
    }

    @Test func aValueOnItsWayIsReceivedEvenByACancelledTask() async throws {
        let mailbox = Mailbox<Int>()
        let receiver = Task { (await mailbox.value(within: nil), await mailbox.value()) }
        receiver.cancel()
        try await Task.sleep(for: .milliseconds(30))
        mailbox.deliver(5)
        let (timed, untimed) = await receiver.value
        #expect(timed == nil && untimed == 5)
    }

    // MARK: SlotQueue tickets

    private let caller = PolicyRouting.Caller(account: "acct", policy: KeyPolicy())

    @Test func aQueuedRequestKeepsItsPlaceWhileItPauses() async throws {
        let slots = SlotQueue()
        #expect(slots.enqueue(for: "m", after: slots.generation(of: "m") + 1, key: "a", caller: caller, now: .now) == nil)  // stale
        let first = try #require(slots.enqueue(for: "m", after: slots.generation(of: "m"), key: "a", caller: caller, now: .now))
        let second = try #require(slots.enqueue(for: "m", after: slots.generation(of: "m"), key: "a", caller: caller, now: .now))
        #expect(await slots.wait(first, within: .milliseconds(30)) == nil)
        #expect(slots.depth(of: "m") == 2)
        // The paused request is still first in line.
        #expect(slots.next(for: "m", where: { _ in true })?.id == first.id)
        #expect(await slots.leave(second) == nil && slots.depth(of: "m") == 0)
    }

    @Test func leavingAfterTheOutcomeCameGivesItToTheOneLeaving() async throws {
        let slots = SlotQueue()
        let ticket = try #require(slots.enqueue(for: "m", after: 0, key: "a", caller: caller, now: .now))
        slots.rerouteAll("m")
        #expect(await slots.leave(ticket) == .reroute)
        #expect(await slots.wait(ticket, within: .zero) == .reroute)
    }
}

extension SlotQueue.Outcome: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.reroute, .reroute): true
        case (.granted(let a), .granted(let b)): a === b
        default: false
        }
    }
}
