/// Fuzz target `tunnel_frame`: arbitrary bytes as one text frame of the node tunnel (lossy
/// UTF-8, as a WebSocket text frame reaches the Hub), through `TunnelMessage.fromNode(text:)`,
/// the check every node → hub frame passes at the tunnel boundary, and `TunnelMessage(text:)`,
/// with which a node reads the Hub's frames.
///
/// `InvalidFrame` and decoding errors are the expected answers to bad input; a trap, a crash or
/// an ASan report is a finding, and so is a broken invariant:
/// - an accepted frame is a node → hub type and within `TunnelMessage.Bounds`, which is what
///   the code behind the tunnel relies on (usage totals add up, progress done ≤ total, a fail
///   status in 400…599, …);
/// - checking is idempotent: an accepted frame passes `checkedFromNode()` unchanged;
/// - a frame round-trips: decoding `encodedText()` gives the same frame (for an accepted frame,
///   `fromNode` gives it back too).
import NodeProtocol
import OpenAIWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let decoded = try? TunnelMessage(text: text) else {
        do {
            _ = try TunnelMessage.fromNode(text: text)
            fatalError("fromNode accepted a frame TunnelMessage(text:) cannot decode: \(text)")
        } catch {
            check(!error.description.isEmpty, "an InvalidFrame without a description")
        }
        return 0
    }
    // A frame the decoder reads, written back and read again, is the same frame.
    if let encoded = try? decoded.encodedText() {
        check((try? TunnelMessage(text: encoded)) == decoded, "round trip changed \(decoded) into \(encoded)")
    }
    let frame: TunnelMessage
    do {
        frame = try TunnelMessage.fromNode(text: text)
    } catch {
        check(!error.description.isEmpty, "an InvalidFrame without a description")
        return 0
    }
    checkBounds(frame)
    do {
        let again = try frame.checkedFromNode()
        check(again == frame, "checking again changed \(frame) into \(again)")
        let encoded = try frame.encodedText()
        let reread = try TunnelMessage.fromNode(text: encoded)
        check(reread == frame, "an accepted frame did not round-trip: \(encoded)")
    } catch {
        fatalError("an accepted frame \(frame) failed on its second pass: \(error)")
    }
    return 0
}

/// A frame's piece count is at least one and its hold within 0…`Bounds.heldMS`.
private func checkPieces(_ pieces: Int?, heldMS: Int?, of frame: TunnelMessage) {
    check((pieces ?? 1) >= 1, "pieces below one: \(frame)")
    check(heldMS.map { (0...TunnelMessage.Bounds.heldMS).contains($0) } ?? true, "held_ms out of bounds: \(frame)")
}

/// What the Hub's code behind the tunnel may assume about a frame `fromNode` accepted.
private func checkBounds(_ frame: TunnelMessage) {
    typealias Bounds = TunnelMessage.Bounds
    let megabytes = 0...Bounds.megabytes
    switch frame {
    case .hello(let hello):
        check((1...Bounds.concurrency).contains(hello.concurrency), "hello concurrency \(hello.concurrency)")
        check(hello.models.count <= Bounds.models, "hello with \(hello.models.count) models")
        check(hello.models.allSatisfy { $0.id.count <= Bounds.text }, "hello with a model id over \(Bounds.text) characters")
        check(hello.vramMB.map(megabytes.contains) ?? true && hello.diskMB.map(megabytes.contains) ?? true, "hello sizes \(hello)")
    case .delta(let delta):
        check(delta.toolCall.map { (0..<Bounds.toolCalls).contains($0.index) } ?? true, "delta tool_call index \(delta)")
        checkPieces(delta.pieces, heldMS: delta.heldMS, of: frame)
    case .embeddings(let embeddings):
        check(embeddings.vectors.allSatisfy { $0.allSatisfy(\.isFinite) }, "embeddings with a non-finite component")
    case .end(let end):
        let usage = end.usage
        check((0...Bounds.tokens).contains(usage.promptTokens) && (0...Bounds.tokens).contains(usage.completionTokens), "end usage \(usage)")
        check(usage.totalTokens == usage.promptTokens + usage.completionTokens, "end usage does not add up: \(usage)")
        check(usage.completionTokensDetails.map { (0...usage.completionTokens).contains($0.reasoningTokens) } ?? true, "end reasoning \(usage)")
        checkPieces(end.pieces, heldMS: end.heldMS, of: frame)
        check((end.delta == nil) == (end.content == nil && end.reasoningContent == nil), "end text without its delta: \(end)")
    case .fail(let fail):
        check((400...599).contains(fail.error.status), "fail status \(fail.error.status)")
        check(fail.error.message.count <= Bounds.text, "fail message of \(fail.error.message.count) characters")
        check(fail.error.retryAfter.map { (1...Bounds.retryAfter).contains($0) } ?? true, "fail retryAfter \(fail.error)")
    case .progress(let progress):
        check(megabytes.contains(progress.totalMB) && (0...progress.totalMB).contains(progress.doneMB), "progress \(progress)")
    case .loaded(let ref), .unloaded(let ref):
        check(ref.model.count <= Bounds.text, "model id over \(Bounds.text) characters")
    case .loadFailed(let failure):
        check(failure.message.count <= Bounds.text, "load_failed message of \(failure.message.count) characters")
    case .welcome, .infer, .cancel, .load, .unload:
        fatalError("fromNode accepted a hub → node frame: \(frame)")
    }
}

