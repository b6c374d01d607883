import NodeProtocol
import Testing

@testable import PortenNode

/// A whole (non-streamed) answer's text in fewer frames: what was generated per interval, and
/// the rest with `end`; each delta says how many pieces it carries, the first how long its first
/// piece was held.
struct AnswerBatchTests {
    private let start = ContinuousClock.now

    private func at(_ ms: Int) -> ContinuousClock.Instant { start + .milliseconds(ms) }

    @Test func textIsSentPerIntervalAndTheFirstDeltaSaysHowLongItsFirstPieceWasHeld() {
        let batch = AnswerBatch(id: "req_1", interval: .milliseconds(250), holdingFrom: at(0))
        #expect(batch.add(content: "Hel", now: at(40)) == nil)  // 40 ms after the request: held
        #expect(batch.add(content: "lo", now: at(50)) == nil)
        #expect(batch.add(reasoning: "hmm", now: at(100)) == nil)
        #expect(batch.add(content: " there", now: at(249)) == nil)  // 249 ms since the request: not yet due
        #expect(batch.add(content: ",", now: at(250)) == .init(id: "req_1", content: "Hello there,", reasoningContent: "hmm", pieces: 5, heldMS: 210))
        #expect(batch.add(content: " you", now: at(300)) == nil)
        #expect(batch.flush(now: at(320)) == .init(id: "req_1", content: " you"))  // not the first: no hold
        #expect(batch.flush() == nil)
    }

    @Test func withoutHoldingTheFirstPieceGoesAtOnceAndSaysNothingOfAHold() {
        // A Hub that does not read text on `end` dates the first token from the first delta.
        let batch = AnswerBatch(id: "req_7", interval: .milliseconds(250), holdingFrom: nil)
        #expect(batch.add(content: "Hel", now: at(40)) == .init(id: "req_7", content: "Hel"))
        #expect(batch.add(content: "lo", now: at(50)) == nil)
        #expect(batch.add(content: "!", now: at(290)) == .init(id: "req_7", content: "lo!", pieces: 2))
        #expect(batch.add(content: " x", now: at(300)) == nil)
        #expect(batch.flush(now: at(310)) == .init(id: "req_7", content: " x"))
    }

    @Test func anAnswerDoneWithinTheIntervalIsHeldWhole() {
        let batch = AnswerBatch(id: "req_5", interval: .milliseconds(250), holdingFrom: at(0))
        #expect(batch.add(content: "Hello", now: at(3)) == nil)
        #expect(batch.add(content: "!", now: at(4)) == nil)
        #expect(batch.flush(now: at(5)) == .init(id: "req_5", content: "Hello!", pieces: 2, heldMS: 2))
        // A first piece sent the moment it came says nothing of a hold.
        let quick = AnswerBatch(id: "req_6", interval: .milliseconds(250), holdingFrom: at(0))
        #expect(quick.add(content: "x", now: at(1)) == nil)
        #expect(quick.flush(now: at(1)) == .init(id: "req_6", content: "x"))
    }

    @Test func aPieceAfterAQuietIntervalGoesAtOnce() {
        // A slow answer is heard from as often as before: a slow first piece, and every piece
        // after a quiet interval, go at once.
        let batch = AnswerBatch(id: "req_2", interval: .milliseconds(250), holdingFrom: at(0))
        #expect(batch.add(content: "a", now: at(300)) == .init(id: "req_2", content: "a"))
        #expect(batch.add(content: "b", now: at(700)) == .init(id: "req_2", content: "b"))
        #expect(batch.add(content: "c", now: at(1100)) == .init(id: "req_2", content: "c"))
    }

    @Test func piecesWithoutTextAreCountedAndAPieceThatFillsTheLimitIsSentAtOnce() {
        let batch = AnswerBatch(id: "req_3", interval: .seconds(60), limit: 12, holdingFrom: at(0))
        #expect(batch.add(reasoning: "think", now: at(0)) == nil)
        #expect(batch.add(content: "", now: at(1)) == nil)
        #expect(batch.add(content: "1234", now: at(2)) == nil)
        #expect(batch.add(content: "5678", now: at(3)) == .init(id: "req_3", content: "12345678", reasoningContent: "think", pieces: 4, heldMS: 3))
        #expect(batch.add(content: "", now: at(4)) == nil)
        #expect(batch.flush(now: at(5)) == .init(id: "req_3", content: ""))
    }

    @Test func everyByteAndPieceArrivesInOrderWhateverTheTiming() {
        let batch = AnswerBatch(id: "req_4", interval: .milliseconds(5), holdingFrom: at(0))
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
