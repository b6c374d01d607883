import OpenAIWire

/// The nodes connected right now, with each one's requests in flight.
public actor NodeRegistry {
    private struct Entry {
        var connection: NodeConnection
        var inFlight = 0
    }

    private var entries: [String: Entry] = [:]

    public init() {}

    /// Adds a connection; returns the one it replaces (the same node connected again).
    func register(_ connection: NodeConnection) -> NodeConnection? {
        let previous = entries[connection.node.id]?.connection
        entries[connection.node.id] = Entry(connection: connection)
        return previous
    }

    /// Removes `connection` unless a newer connection of the same node has replaced it.
    func unregister(_ connection: NodeConnection) {
        if entries[connection.node.id]?.connection === connection {
            entries[connection.node.id] = nil
        }
    }

    /// Picks a node for `model` and takes one of its slots; release it with ``release(_:)``.
    func acquire(model: String) throws(APIError) -> NodeConnection {
        let candidates = entries.values.map {
            NodeSelection.Candidate(
                nodeID: $0.connection.node.id, models: $0.connection.models, inFlight: $0.inFlight,
                concurrency: $0.connection.hello.concurrency)
        }
        switch NodeSelection.choose(model: model, among: candidates) {
        case .dispatch(let nodeID):
            entries[nodeID]!.inFlight += 1
            return entries[nodeID]!.connection
        case .allBusy:
            throw .noAvailableNode("Every node serving '\(model)' is busy. Retry shortly.", retryAfter: 1)
        case .noNode:
            throw .noAvailableNode("No node is serving '\(model)' right now. Retry later.", retryAfter: 5)
        }
    }

    func release(_ connection: NodeConnection) {
        guard entries[connection.node.id]?.connection === connection else { return }
        entries[connection.node.id]!.inFlight -= 1
    }

    /// Models at least one connected node serves.
    public func readyModels() -> Set<String> {
        entries.values.reduce(into: Set<String>()) { $0.formUnion($1.connection.models) }
    }

    func connection(nodeID: String) -> NodeConnection? { entries[nodeID]?.connection }

    func connections() -> [NodeConnection] { entries.values.map(\.connection) }

    /// Ids of the connected nodes.
    public func connectedNodeIDs() -> Set<String> { Set(entries.keys) }

    public func inFlight(nodeID: String) -> Int { entries[nodeID]?.inFlight ?? 0 }
}
