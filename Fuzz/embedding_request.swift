/// Fuzz target `embedding_request`: arbitrary bytes as the body of `POST /v1/embeddings`, along
/// the Hub's path (`JSONParser.parse`, then `EmbeddingRequest(validating:)`) and on to the node,
/// which reads the body again from the `infer` frame.
///
/// A `JSONParser.SyntaxError` or an `APIError` is the expected answer to bad input; a trap, a
/// crash or an ASan report is a finding, and so is a broken invariant:
/// - a syntax error's byte offset lies within the body;
/// - a validation error is a 4xx `invalid_request_error`;
/// - an accepted body has 1…`maximumInputs` non-empty inputs;
/// - a body the Hub accepts, sent in an `infer` frame, is accepted by the node with the same meaning.
import NodeProtocol
import OpenAIWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body: JSONValue
    do {
        body = try JSONParser.parse(UnsafeBufferPointer(start: data, count: size))
    } catch {
        check((0...size).contains(error.offset), "syntax error offset outside 0…\(size): \(error)")
        return 0
    }
    let request: EmbeddingRequest
    do {
        request = try EmbeddingRequest(validating: body)
    } catch {
        check((400...499).contains(error.status) && error.type == "invalid_request_error", "validation answered \(error)")
        return 0
    }
    check(
        (1...EmbeddingRequest.maximumInputs).contains(request.inputs.count) && request.inputs.allSatisfy { !$0.isEmpty },
        "accepted inputs out of bounds: \(request.inputs.count) inputs")
    let forwarded: EmbeddingRequest
    do {
        let frame = try TunnelMessage.infer(.init(id: "req_fuzz", kind: .embeddings, model: request.model, body: body)).encodedText()
        guard case .infer(let infer) = try TunnelMessage(text: frame) else { fatalError("an infer frame decoded as another type: \(frame)") }
        forwarded = try EmbeddingRequest(validating: infer.body)
    } catch {
        fatalError("the Hub accepted a body the node refuses or cannot read (\(error)): \(JSONText.compact(body))")
    }
    check(
        forwarded.model == request.model && forwarded.inputs == request.inputs && forwarded.encodingFormat == request.encodingFormat
            && forwarded.dimensions == request.dimensions && forwarded.user == request.user,
        "the node reads the forwarded body differently: \(JSONText.compact(body))")
    return 0
}

/// `precondition` drops its message in -O builds; this keeps it for the crash report.
private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
