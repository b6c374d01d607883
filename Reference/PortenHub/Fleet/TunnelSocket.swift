import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// One upgraded tunnel socket: its channel, which frames are written to directly while it can
/// take more, and the WebSocket library's writer, for frames that must wait and for the close
/// handshake. Whatever waits on the writer waits at most until the node has read nothing for
/// ``stallLimit``; then the socket is closed outright. A node that stopped reading would
/// otherwise hold its senders, and a close, for as long as it likes: the library's pings wait
/// in the same queue, so its ping timeout never fires.
struct TunnelSocket: Sendable {
    let outbound: WebSocketOutboundWriter
    let channel: any Channel
    /// With the node's id: a stall is the operator's to see, by node.
    let logger: Logger
    /// Set by the first write that finds the node stalled: it alone logs it.
    private let stallSeen = StallSeen()

    init(outbound: WebSocketOutboundWriter, channel: any Channel, logger: Logger) {
        (self.outbound, self.channel, self.logger) = (outbound, channel, logger)
    }

    /// How long the node may read nothing while a write waits, before the socket is closed.
    static let stallLimit: Duration = .seconds(10)

    /// The node stopped reading; the socket was closed.
    struct Stalled: Error {}

    /// Writes `text` now if the socket can take it (not awaited: the library's writer would cost
    /// an actor hop and an async writer per frame, and adds nothing a server's text frame needs —
    /// no extensions are configured, servers do not mask); else through the writer, which
    /// suspends until the node reads (and ends the wait if the task is cancelled), so the Hub's
    /// buffers do not grow. Frames of one task stay in order.
    func write(_ text: String) async throws {
        guard channel.isWritable, channel.isActive else {
            return try await unlessStalled { try await $0.write(.text(text)) }
        }
        writeNow(text)
    }

    /// Writes `text` without waiting, whatever the socket holds: for the small frames that must
    /// not be lost to a full socket or a cancelled task (`cancel`); at most one per request.
    func writeNow(_ text: String) {
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text)), promise: nil)
    }

    /// Closes with a close handshake, or outright if the node reads nothing for ``stallLimit``.
    func close(_ code: WebSocketErrorCode, reason: String) async {
        try? await unlessStalled { try await $0.close(code, reason: reason) }
    }

    /// Runs `operation` on the writer; throws ``Stalled`` (having closed the socket) if the node
    /// reads nothing for ``stallLimit`` meanwhile.
    private func unlessStalled(_ operation: @escaping @Sendable (WebSocketOutboundWriter) async throws -> Void) async throws {
        let (outbound, channel) = (outbound, channel)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await operation(outbound) }
                group.addTask {
                    try await Self.waitForStall(of: channel)
                    throw Stalled()
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch is Stalled {
            if stallSeen.first() {
                logger.warning("the node read nothing from its tunnel for \(Self.stallLimit) while frames waited: closing the tunnel")
            }
            try? await channel.close()
            throw Stalled()
        }
    }

    /// Returns once the bytes the channel holds for the node have not gone down for
    /// ``stallLimit`` (checked every second): a slow node that still reads is not stalled.
    private static func waitForStall(of channel: any Channel) async throws {
        var lastProgress = ContinuousClock.now
        var held = try? await channel.getOption(.bufferedWritableBytes).get()
        while ContinuousClock.now - lastProgress < stallLimit {
            try await Task.sleep(for: .seconds(1))
            guard let now = try? await channel.getOption(.bufferedWritableBytes).get() else { return }  // closed
            if let before = held, now < before { lastProgress = .now }
            held = now
        }
    }
}

/// Whether a stall was seen already (``TunnelSocket`` is copied; this is shared).
private final class StallSeen: Sendable {
    private let seen = Mutex(false)

    /// True the first time only.
    func first() -> Bool {
        seen.withLock { seen in
            defer { seen = true }
            return !seen
        }
    }
}
