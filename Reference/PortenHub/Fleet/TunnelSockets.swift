import HummingbirdWebSocket
import Synchronization

/// Every open tunnel socket, by node, from the upgrade on — before any hello. Revoking a node,
/// disabling its account or changing its attributes goes through ``retire(nodeID:)``, which
/// moves its epoch on and hands back all of that node's sockets to close, so a socket that upgraded
/// before the change cannot say hello afterwards and be welcomed under the old record.
final class TunnelSockets: Sendable {
    private struct State {
        var sockets: [String: [Int: TunnelSocket]] = [:]
        var epochs: [String: Int] = [:]
        var nextID = 0
    }

    /// A socket's place in the table, handed back to ``remove(_:)``.
    struct Ticket: Sendable {
        let nodeID: String
        let socketID: Int
        /// The node's epoch when the socket was opened.
        let epoch: Int
    }

    private let state = Mutex(State())

    /// Sockets one node may hold open at once (one tunnel, plus reconnects racing it).
    static let perNode = 4

    /// Adds an upgraded socket of `nodeID`; nil when the node already holds ``perNode`` sockets.
    func add(nodeID: String, socket: TunnelSocket) -> Ticket? {
        state.withLock { state in
            guard (state.sockets[nodeID]?.count ?? 0) < Self.perNode else { return nil }
            state.nextID += 1
            state.sockets[nodeID, default: [:]][state.nextID] = socket
            return Ticket(nodeID: nodeID, socketID: state.nextID, epoch: state.epochs[nodeID] ?? 0)
        }
    }

    func remove(_ ticket: Ticket) {
        state.withLock { state in
            guard state.sockets[ticket.nodeID]?.removeValue(forKey: ticket.socketID) != nil else { return }
            if state.sockets[ticket.nodeID]?.isEmpty == true { state.sockets[ticket.nodeID] = nil }
        }
    }

    /// Whether the node's record may have changed since the socket of `ticket` was opened.
    func isStale(_ ticket: Ticket) -> Bool {
        state.withLock { ($0.epochs[ticket.nodeID] ?? 0) != ticket.epoch }
    }

    /// Moves the node's epoch on (no socket it has open can be welcomed after this) and returns
    /// those sockets, for the caller to close.
    func retire(nodeID: String) -> [TunnelSocket] {
        state.withLock { state in
            state.epochs[nodeID, default: 0] += 1
            return Array((state.sockets[nodeID] ?? [:]).values)
        }
    }
}
