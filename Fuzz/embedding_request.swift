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
    guard let body = requestBody(data, size) else { return 0 }
    guard let request = validated({ () throws(APIError) in try EmbeddingRequest(validating: body) }) else { return 0 }
    check(
        (1...EmbeddingRequest.maximumInputs).contains(request.inputs.count) && request.inputs.allSatisfy { !$0.isEmpty },
        "accepted inputs out of bounds: \(request.inputs.count) inputs")
    let forwarded: EmbeddingRequest
    do {
        forwarded = try EmbeddingRequest(validating: throughInferFrame(body, kind: .embeddings, model: request.model))
    } catch {
        fatalError("the Hub accepted a body the node refuses (\(error)): \(JSONText.compact(body))")
    }
    check(
        forwarded.model == request.model && forwarded.inputs == request.inputs && forwarded.encodingFormat == request.encodingFormat
            && forwarded.dimensions == request.dimensions && forwarded.user == request.user,
        "the node reads the forwarded body differently: \(JSONText.compact(body))")
    return 0
}

