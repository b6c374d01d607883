/// The routing decision for one request, as a pure function of the connected fleet.
public enum NodeSelection {
    /// A connected node as routing sees it.
    public struct Candidate: Sendable, Equatable {
        public var nodeID: String
        public var models: Set<String>
        public var inFlight: Int
        public var concurrency: Int

        public init(nodeID: String, models: Set<String>, inFlight: Int, concurrency: Int) {
            self.nodeID = nodeID
            self.models = models
            self.inFlight = inFlight
            self.concurrency = concurrency
        }
    }

    public enum Decision: Sendable, Equatable {
        case dispatch(nodeID: String)
        /// Nodes serve the model but every one is at its concurrency.
        case allBusy
        /// No connected node serves the model.
        case noNode
    }

    /// The serving node with the fewest requests in flight (ties broken by id, so it is stable).
    public static func choose(model: String, among candidates: [Candidate]) -> Decision {
        let serving = candidates.filter { $0.models.contains(model) }
        guard !serving.isEmpty else { return .noNode }
        let free = serving.filter { $0.inFlight < $0.concurrency }
        guard let best = free.min(by: { ($0.inFlight, $0.nodeID) < ($1.inFlight, $1.nodeID) }) else { return .allBusy }
        return .dispatch(nodeID: best.nodeID)
    }
}
