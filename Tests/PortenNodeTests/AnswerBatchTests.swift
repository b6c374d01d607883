import NodeProtocol
import Testing

@testable import PortenNode

/// A whole (non-streamed) answer's text in fewer frames: the first piece at once, then what was
/// generated per interval, and the rest before `end`; each delta says how many pieces it carries.
struct AnswerBatchTests {
    private let start = ContinuousClock.now

    private func at(_ ms: Int) -> ContinuousClock.Instant { start + .milliseconds(ms) }

    @Test func theFirstPieceGoesAtOnceThenTextIsSentPerInterval() {
        let batch = AnswerBatch(id: "req_1", interval: .milliseconds(250))
        #expect(batch.add(content: "Hel", now: at(0)) == .init(id: "req_1", content: "Hel"))
        #expect(batch.add(content: "lo", now: at(10)) == nil)
        #expect(batch.add(reasoning: "hmm", now: at(100)) == nil)
        #expect(batch.add(content: " there", now: at(249)) == nil)  // 249 ms since the last delta: not yet due
        #expect(batch.add(content: ",", now: at(250)) == .init(id: "req_1", content: "lo there,", reasoningContent: "hmm", pieces: 4))
        #expect(batch.add(content: " you", now: at(300)) == nil)
        #expect(batch.flush() == .init(id: "req_1", content: " you"))
        #expect(batch.flush() == nil)
    }

    @Test func aPieceAfterAQuietIntervalGoesAtOnce() {
        // A slow answer is heard from as often as before: nothing waits for a second piece.
        let batch = AnswerBatch(id: "req_2", interval: .milliseconds(250))
        #expect(batch.add(content: "a", now: at(0)) != nil)
        #expect(batch.add(content: "b", now: at(400)) == .init(id: "req_2", content: "b"))
        #expect(batch.add(content: "c", now: at(800)) == .init(id: "req_2", content: "c"))
    }

    @Test func piecesWithoutTextAreCountedAndAPieceThatFillsTheLimitIsSentAtOnce() {
        let batch = AnswerBatch(id: "req_3", interval: .seconds(60), limit: 8)
        #expect(batch.add(reasoning: "think", now: at(0)) == .init(id: "req_3", reasoningContent: "think"))
        #expect(batch.add(content: "", now: at(1)) == nil)
        #expect(batch.add(content: "1234", now: at(2)) == nil)
        #expect(batch.add(content: "5678", now: at(3)) == .init(id: "req_3", content: "12345678", pieces: 3))
        #expect(batch.add(content: "", now: at(4)) == nil)
        #expect(batch.flush() == .init(id: "req_3", content: ""))
    }

    @Test func everyByteAndPieceArrivesInOrderWhateverTheTiming() {
        let batch = AnswerBatch(id: "req_4", interval: .milliseconds(5))
        var sent = "", expected = "", pieces = 0
        for n in 0..<500 {
            let piece = "t\(n) "
            expected += piece
            if let delta = batch.add(content: piece, now: at(n * 2)) { (sent, pieces) = (sent + (delta.content ?? ""), pieces + (delta.pieces ?? 1)) }
        }
        if let delta = batch.flush() { (sent, pieces) = (sent + (delta.content ?? ""), pieces + (delta.pieces ?? 1)) }
        #expect(sent == expected && pieces == 500)
    }
}
