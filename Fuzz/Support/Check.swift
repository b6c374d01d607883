/// Shared by every fuzz target (tools/fuzz compiles Fuzz/Support/*.swift into each one).
import OpenAIWire

/// `precondition` drops its message in -O builds; this keeps it for the crash report.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// The input as a request body, as `RequestBody.json` parses it; nil (after checking that the
/// syntax error points inside the input) when it is not JSON.
func requestBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> JSONValue? {
    do {
        return try JSONParser.parse(UnsafeBufferPointer(start: data, count: size))
    } catch {
        check((0...size).contains(error.offset), "syntax error offset outside 0…\(size): \(error)")
        return nil
    }
}

/// Runs a request validation; nil (after checking it is a 4xx `invalid_request_error`) when it refuses.
func validated<Request>(_ validate: () throws(APIError) -> Request) -> Request? {
    do {
        return try validate()
    } catch {
        check((400...499).contains(error.status) && error.type == "invalid_request_error", "validation answered \(error)")
        return nil
    }
}
