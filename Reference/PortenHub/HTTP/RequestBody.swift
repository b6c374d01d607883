import Hummingbird
import NIOCore
import OpenAIWire

/// Reads a request body as strict JSON within the Hub's size limit.
enum RequestBody {
    /// - Throws: 413 past `limit`, 400 (with the byte offset) for malformed JSON.
    @inline(never)  // its frame stays out of its callers' frames (an idle stream holds them)
    static func json(_ request: Request, limit: Int) async throws(APIError) -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw .requestTooLarge(limit: limit)
        } catch {
            throw .invalidRequest("The request body could not be read: \(error).")
        }
        guard buffer.readableBytes > 0 else {
            throw .invalidRequest("The request body is empty; expected a JSON object.")
        }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw .invalidRequest(
                "We could not parse the JSON body of your request: \(error.message) at byte \(error.offset). "
                    + "Send valid JSON with 'Content-Type: application/json'.")
        }
    }
}
