import NIOCore
import NIOEmbedded
import Testing
@testable import PortenRedis

/// The handler's timing rules on an embedded loop whose clock the test moves: when a late reply is
/// a timeout for one caller and when it closes the connection for everyone.
@Suite struct RedisCommandHandlerTests {
    private let patience = TimeAmount.milliseconds(500)

    private func channel() throws -> (EmbeddedChannel, EmbeddedEventLoop) {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: RedisCommandHandler(unresponsiveAfter: patience), loop: loop)
        try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 6379)).wait()
        return (channel, loop)
    }

    /// Writes as ``RedisConnection`` does, so a write to a closed channel fails its reply.
    private func send(_ name: String, on channel: EmbeddedChannel, within timeout: TimeAmount) -> EventLoopFuture<RESPValue> {
        RedisConnection(channel: channel).write(bytes: RESPCommand(name).bytes, name: name, replies: 1, deadline: channel.eventLoop.now + timeout)[0]
    }

    private func outcome(_ future: EventLoopFuture<RESPValue>) -> Result<RESPValue, any Error>? {
        var result: Result<RESPValue, any Error>?
        future.whenComplete { result = $0 }
        return result
    }

    @Test func aShortCommandPipelinedBeforeALongOneTimesOutAloneAndTheLongOneGetsItsReply() throws {
        let (channel, loop) = try channel()
        // Redis answers both only after the long one has run.
        let ping = send("PING", on: channel, within: .milliseconds(500))
        let sleep = send("DEBUG", on: channel, within: .seconds(30))
        loop.advanceTime(by: .seconds(6))
        guard case .failure(RedisError.timeout)? = outcome(ping) else {
            Issue.record("the PING should have timed out, got \(String(describing: outcome(ping)))")
            return
        }
        #expect(outcome(sleep) == nil)
        #expect(channel.isActive)
        try channel.writeInbound(RESPValue.simpleString("PONG"))
        try channel.writeInbound(RESPValue.simpleString("OK"))
        #expect(try outcome(sleep)?.get() == .simpleString("OK"))
    }

    @Test func aLongCommandAheadOfShortOnesKeepsTheConnection() throws {
        let (channel, loop) = try channel()
        let sleep = send("DEBUG", on: channel, within: .seconds(30))
        let get = send("GET", on: channel, within: .milliseconds(100))
        loop.advanceTime(by: .seconds(2))
        guard case .failure(RedisError.timeout)? = outcome(get) else {
            Issue.record("the GET should have timed out, got \(String(describing: outcome(get)))")
            return
        }
        #expect(channel.isActive)
        try channel.writeInbound(RESPValue.simpleString("OK"))
        #expect(try outcome(sleep)?.get() == .simpleString("OK"))
    }

    @Test func aSilentServerClosesTheConnectionOnceEveryWaiterIsPastItsDeadlineAndThePatience() throws {
        let (channel, loop) = try channel()
        let first = send("GET", on: channel, within: .milliseconds(100))
        let second = send("INCR", on: channel, within: .milliseconds(300))
        loop.advanceTime(by: .milliseconds(400))
        guard case .failure(RedisError.timeout)? = outcome(first), case .failure(RedisError.timeout)? = outcome(second) else {
            Issue.record("both should have timed out, got \(String(describing: outcome(first))), \(String(describing: outcome(second)))")
            return
        }
        #expect(channel.isActive, "closed before the connection's patience ran out")
        loop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
        // A command written now is refused at once, not left waiting.
        guard case .failure? = outcome(send("PING", on: channel, within: .seconds(5))) else {
            Issue.record("a command written after the close should fail at once")
            return
        }
    }

    @Test func aLateReplyStillLinesUpWithItsCommand() throws {
        let (channel, loop) = try channel()
        let first = send("GET", on: channel, within: .milliseconds(100))
        let second = send("INCR", on: channel, within: .seconds(5))
        loop.advanceTime(by: .milliseconds(200))
        guard case .failure(RedisError.timeout)? = outcome(first) else {
            Issue.record("the GET should have timed out, got \(String(describing: outcome(first)))")
            return
        }
        try channel.writeInbound(RESPValue.null)
        try channel.writeInbound(RESPValue.integer(7))
        #expect(try outcome(second)?.get() == .integer(7))
    }
}
