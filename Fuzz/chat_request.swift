/// Fuzz target `chat_request`: arbitrary bytes as the body of `POST /v1/chat/completions`, along
/// the Hub's path (`JSONParser.parse`, as `RequestBody.json` calls it, then
/// `ChatCompletionRequest(validating:)`) and on to the node, which reads the body again from the
/// `infer` frame.
///
/// A `JSONParser.SyntaxError` or an `APIError` is the expected answer to bad input; a trap, a
/// crash or an ASan report is a finding, and so is a broken invariant:
/// - a syntax error's byte offset lies within the body (the 400 quotes it);
/// - a parsed document, written back with `JSONText.compact`, parses to the same value;
/// - a validation error is a 4xx `invalid_request_error`;
/// - a body the Hub accepts, sent in an `infer` frame, is accepted by the node with the same meaning.
import NodeProtocol
import OpenAIWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let body = requestBody(data, size) else { return 0 }
    let text = JSONText.compact(body)
    do {
        check(try JSONParser.parse(text) == body, "JSONText.compact changed the value: \(text)")
    } catch {
        fatalError("JSONText.compact wrote text that does not parse (\(error)): \(text)")
    }
    guard let request = validated({ () throws(APIError) in try ChatCompletionRequest(validating: body) }) else { return 0 }
    check(!request.messages.isEmpty, "an accepted request has no messages")
    _ = request.requiredCapabilities
    // What the node sees: the body after a trip through an `infer` frame.
    let forwarded: ChatCompletionRequest
    do {
        forwarded = try ChatCompletionRequest(validating: throughInferFrame(body, kind: .chat, model: request.model))
    } catch {
        fatalError("the Hub accepted a body the node refuses (\(error)): \(text)")
    }
    check(
        forwarded.model == request.model && forwarded.messages == request.messages && forwarded.stream == request.stream
            && forwarded.includeUsage == request.includeUsage && forwarded.maxTokens == request.maxTokens && forwarded.stop == request.stop
            && forwarded.temperature == request.temperature && forwarded.topP == request.topP && forwarded.seed == request.seed
            && forwarded.presencePenalty == request.presencePenalty && forwarded.frequencyPenalty == request.frequencyPenalty
            && forwarded.tools.map(\.name) == request.tools.map(\.name) && forwarded.toolChoice == request.toolChoice
            && forwarded.parallelToolCalls == request.parallelToolCalls && forwarded.responseFormat.wantsJSON == request.responseFormat.wantsJSON
            && forwarded.user == request.user && forwarded.metadata == request.metadata,
        "the node reads the forwarded body differently: \(text)")
    return 0
}

