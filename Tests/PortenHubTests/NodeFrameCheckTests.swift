import NodeProtocol
import OpenAIWire
import Testing

/// Frames from a node are checked once, at the tunnel boundary (issue #18, findings 3 and 9).
struct NodeFrameCheckTests {
    private func frame(_ json: String) throws -> TunnelMessage { try TunnelMessage.fromNode(text: json) }

    @Test(arguments: [1000, -5, 0, 99, 101, 204, 304, 200, 600])
    func failStatusesOutside4xxAnd5xxBecome502(_ status: Int) throws {
        let checked = try frame(#"{"type":"fail","id":"r","error":{"status":\#(status),"message":"boom","type":"x","param":null,"code":"y"}}"#)
        guard case .fail(let fail) = checked else { Issue.record("not a fail: \(checked)"); return }
        #expect(fail.error.status == 502 && fail.error.code == "node_error" && fail.error.message.contains("boom"))
    }

    @Test func failsWithinRangePassThroughBounded() throws {
        let long = String(repeating: "x", count: 100_000)
        let checked = try frame(
            #"{"type":"fail","id":"r","error":{"status":429,"message":"\#(long)","type":"rate_limit_error","code":"c","retryAfter":99999999}}"#)
        guard case .fail(let fail) = checked else { Issue.record("not a fail"); return }
        #expect(fail.error.status == 429 && fail.error.message.count == TunnelMessage.Bounds.text)
        #expect(fail.error.retryAfter == TunnelMessage.Bounds.retryAfter)
    }

    @Test func usageIsClampedAndItsTotalRecomputed() throws {
        let checked = try frame(
            #"{"type":"end","id":"r","finish_reason":"stop","usage":{"prompt_tokens":-1000000,"completion_tokens":9223372036854775807,"total_tokens":5,"completion_tokens_details":{"reasoning_tokens":-3}}}"#)
        guard case .end(let end) = checked else { Issue.record("not an end"); return }
        #expect(end.usage.promptTokens == 0 && end.usage.completionTokens == TunnelMessage.Bounds.tokens)
        #expect(end.usage.totalTokens == TunnelMessage.Bounds.tokens && end.usage.completionTokensDetails?.reasoningTokens == 0)
    }

    @Test func progressIsClampedWithDoneAtMostTotal() throws {
        let huge = try frame(#"{"type":"progress","model":"m","phase":"downloading","done_mb":4611686018427387904,"total_mb":100}"#)
        #expect(huge == .progress(.init(model: "m", phase: .downloading, doneMB: 100, totalMB: 100)))
        let negative = try frame(#"{"type":"progress","model":"m","phase":"loading","done_mb":-5,"total_mb":-9223372036854775808}"#)
        #expect(negative == .progress(.init(model: "m", phase: .loading, doneMB: 0, totalMB: 0)))
    }

    @Test func hubFramesAndBadValuesAreRefused() throws {
        #expect(throws: TunnelMessage.InvalidFrame.self) { try frame(#"{"type":"cancel","id":"r"}"#) }
        #expect(throws: TunnelMessage.InvalidFrame.self) { try frame(#"{"type":"welcome","node_id":"n","region":"eu","trust_class":"trusted","accepted_models":[]}"#) }
        #expect(throws: TunnelMessage.InvalidFrame.self) {
            try frame(#"{"type":"hello","protocol":1,"engine":"x","agent":"y","provisionable":false,"concurrency":0,"models":[]}"#)
        }
        do {
            _ = try TunnelMessage.fromNode(text: #"{"type":"delta","id":"req_1","tool_call":{"index":-1,"arguments":"x"}}"#)
            Issue.record("a negative tool-call index was accepted")
        } catch {
            #expect(error.requestID == "req_1")
        }
        #expect(throws: TunnelMessage.InvalidFrame.self) { try frame(#"{"type":"delta","id":"r","content":"x","pieces":0}"#) }
        #expect(try frame(#"{"type":"delta","id":"r","content":"xy","pieces":2}"#) == .delta(.init(id: "r", content: "xy", pieces: 2)))
        let usage = #""usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}"#
        #expect(throws: TunnelMessage.InvalidFrame.self) { try frame(#"{"type":"end","id":"r","content":"x","pieces":0,\#(usage)}"#) }
    }

    @Test func embeddingsFramesAreBoundedBeforeAndAfterDecoding() throws {
        #expect(try frame(#"{"type":"embeddings","id":"r","vectors":[[0.5,1]]}"#) == .embeddings(.init(id: "r", vectors: [[0.5, 1]])))
        // Empty vectors, more vectors than a request has inputs: refused, naming the request.
        let many = Array(repeating: "[0.5]", count: TunnelMessage.Bounds.vectors + 1).joined(separator: ",")
        for vectors in ["[[]]", "[[1],[]]", "[\(many)]"] {
            do {
                _ = try TunnelMessage.fromNode(text: #"{"type":"embeddings","id":"req_1","vectors":\#(vectors)}"#)
                Issue.record("\(vectors.prefix(20)) was accepted")
            } catch {
                #expect(error.requestID == "req_1")
            }
        }
        // Tiny vectors past the frame's budget of arrays: refused unparsed (they would cost the
        // Hub about 16 bytes per byte of frame).
        let tiny = String(repeating: "[0],", count: TunnelMessage.Bounds.frame.containers) + "[0]"
        #expect(throws: TunnelMessage.InvalidFrame.self) { try frame(#"{"type":"embeddings","id":"r","vectors":[\#(tiny)]}"#) }
        // A frame the strict parser refuses up front (a duplicate key) is not handed to
        // `JSONDecoder` either, which would build it whole; a Hub's frame to a node still is.
        let twice = #"{"type":"embeddings","type":"embeddings","id":"r","vectors":[[0.5]]}"#
        #expect(throws: TunnelMessage.InvalidFrame.self) { try frame(twice) }
        #expect(try TunnelMessage(text: twice) == .embeddings(.init(id: "r", vectors: [[0.5]])))
        // Past a budget, a frame `JSONDecoder` would read is refused too, not handed to it.
        let zeros = #"{"type":"embeddings","id":"r","vectors":[[0,0,0,0,0,0,0,0,0,0]]}"#
        #expect(try TunnelMessage(text: zeros, budget: .init(values: 20, containers: 4)) == .embeddings(.init(id: "r", vectors: [Array(repeating: 0, count: 10)])))
        #expect(throws: JSONParser.SyntaxError.self) { try TunnelMessage(text: zeros, budget: .init(values: 10, containers: 4)) }
        // A full answer's worth (16 MiB of floats, in as many vectors as a request may have) and a
        // full hello fit in one frame.
        let floats = (16 << 20) / 4
        #expect(TunnelMessage.Bounds.frame.values >= floats + TunnelMessage.Bounds.vectors + 4)
        #expect(TunnelMessage.Bounds.frame.containers >= max(TunnelMessage.Bounds.vectors + 2, 2 * TunnelMessage.Bounds.models + 2))
    }

    @Test func aHeldFirstPieceIsClampedToADayAndNeverNegative() throws {
        #expect(try frame(#"{"type":"delta","id":"r","content":"x","held_ms":-40}"#) == .delta(.init(id: "r", content: "x", heldMS: 0)))
        #expect(try frame(#"{"type":"delta","id":"r","held_ms":86400001}"#) == .delta(.init(id: "r", heldMS: TunnelMessage.Bounds.heldMS)))
        let usage = #""usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}"#
        guard case .end(let end) = try frame(#"{"type":"end","id":"r","content":"x","held_ms":9223372036854775807,\#(usage)}"#) else {
            Issue.record("not an end")
            return
        }
        #expect(end.heldMS == TunnelMessage.Bounds.heldMS && end.delta == .init(id: "r", content: "x", heldMS: TunnelMessage.Bounds.heldMS))
    }
}
