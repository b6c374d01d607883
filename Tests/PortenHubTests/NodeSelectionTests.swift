import PortenHub
import Testing

struct NodeSelectionTests {
    private func node(_ id: String, _ models: Set<String>, inFlight: Int = 0, concurrency: Int = 4) -> NodeSelection.Candidate {
        .init(nodeID: id, models: models, inFlight: inFlight, concurrency: concurrency)
    }

    @Test func picksTheLeastLoadedServingNode() {
        let fleet = [node("a", ["m"], inFlight: 2), node("b", ["m"], inFlight: 1), node("c", ["x"])]
        #expect(NodeSelection.choose(model: "m", among: fleet) == .dispatch(nodeID: "b"))
    }

    @Test func breaksTiesByID() {
        #expect(NodeSelection.choose(model: "m", among: [node("b", ["m"]), node("a", ["m"])]) == .dispatch(nodeID: "a"))
    }

    @Test func reportsBusyAndAbsentDifferently() {
        #expect(NodeSelection.choose(model: "m", among: [node("a", ["m"], inFlight: 4)]) == .allBusy)
        #expect(NodeSelection.choose(model: "m", among: [node("a", ["x"])]) == .noNode)
        #expect(NodeSelection.choose(model: "m", among: []) == .noNode)
    }
}
