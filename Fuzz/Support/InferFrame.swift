/// Shared by the fuzz targets that import NodeProtocol.
import NodeProtocol
import OpenAIWire

/// `body` as the node receives it: sent in an `infer` frame, encoded and decoded again.
func throughInferFrame(_ body: JSONValue, kind: TunnelMessage.Infer.Kind, model: String) -> JSONValue {
    do {
        let frame = try TunnelMessage.infer(.init(id: "req_fuzz", kind: kind, model: model, body: body)).encodedText()
        guard case .infer(let infer) = try TunnelMessage(text: frame) else { fatalError("an infer frame decoded as another type: \(frame)") }
        return infer.body
    } catch {
        fatalError("an infer frame could not be written or read (\(error)): \(JSONText.compact(body))")
    }
}
