import NodeProtocol
import Testing

@testable import PortenNode

/// A whole (non-streamed) answer's text in fewer frames: the first piece at once, then what was
/// generated per interval, and the rest before `end`.
struct AnswerBatchTests {
    private let start = ContinuousClock.now

    private func at(_ ms: Int) -> ContinuousClock.Instant { start + .milliseconds(ms) }

    @Test func theFirstPieceGoesAtOnceThenTextIsSentPerInterval() {
        let batch = AnswerBatch(id: "req_1", interval: .milliseconds(250))
        #expect(batch.add(content: "", now: at(0)) == nil)  // no text yet: not the first piece
        #expect(batch.add(content: "Hel", now: at(1)) == .init(id: "req_1", content: "Hel"))
        #expect(batch.add(content: "lo", now: at(10)) == nil)
        #expect(batch.add(reasoning: "hmm", now: at(100)) == nil)
        #expect(batch.add(content: " there", now: at(259)) == nil)  // held since 10 ms: not yet due
        #expect(batch.add(content: ",", now: at(260)) == .init(id: "req_1", content: "lo there,", reasoningContent: "hmm"))
        #expect(batch.add(content: " you", now: at(600)) == nil)  // a new interval starts with this piece
        #expect(batch.flush() == .init(id: "req_1", content: " you"))
        #expect(batch.flush() == nil)
    }

    @Test func aPieceThatFillsTheLimitIsSentAtOnce() {
        let batch = AnswerBatch(id: "req_2", interval: .seconds(60), limit: 8)
        #expect(batch.add(reasoning: "think", now: at(0))?.reasoningContent == "think")
        #expect(batch.add(content: "1234", now: at(1)) == nil)
        #expect(batch.add(content: "5678", now: at(2)) == .init(id: "req_2", content: "12345678"))
        #expect(batch.flush() == nil)
    }

    @Test func everyByteArrivesInOrderWhateverTheTiming() {
        let batch = AnswerBatch(id: "req_3", interval: .milliseconds(5))
        var sent = "", expected = ""
        for n in 0..<500 {
            let piece = "t\(n) "
            expected += piece
            if let delta = batch.add(content: piece, now: at(n * 2)) { sent += delta.content ?? "" }
        }
        sent += batch.flush()?.content ?? ""
        #expect(sent == expected)
    }
}
