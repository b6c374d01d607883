import Foundation
import Hummingbird
import NIOCore
import OpenAIWire
import Synchronization

/// A streamed chat request whose node may take long to come (a cold load, a full queue): if it
/// is still waiting after `after`, the client gets `200` with SSE headers at once and an SSE
/// comment (`: porten warming downloading 42%`) every interval until the first chunk, so a proxy
/// that cuts silent connections (nginx: 60 s) keeps it. A failure after that is an in-stream error.
///
/// The connection's task does the waiting (``Routing`` pauses and goes on where it stopped):
/// first in the handler, then in the response body between comments.
struct KeepAliveStream: Sendable {
    let services: HubServices
    let after: Duration

    func respond(
        chat: ChatCompletionRequest, model: CatalogModel, key: AuthenticatedKey, headers: HTTPFields, requestID: String, id: String, meter: UsageMeter
    ) async throws(APIError) -> Response {
        // The caller meters a refusal (once); this copy carries the credit reservation.
        var meter = meter
        let routing: Routing
        let opened: InferenceDispatch?
        do {
            routing = try await InferenceGate(services: services).pass(
                .chat, model: model, body: chat.body, key: key, headers: headers, requestID: requestID, meter: &meter)
            opened = try await routing.advance(until: .now + after)
        } catch {
            meter.reservation?.release()
            throw error
        }
        let encoder = ChatStreamEncoder(id: id, created: Int(Date().timeIntervalSince1970), model: model.id)
        if let opened {
            meter.served(by: opened)
            return ChatCompletionsController.streamingResponse(
                opened, encoder: encoder, includeUsage: chat.includeUsage, meter: meter, headers: InferenceGate.proofHeaders(opened))
        }
        let interval = services.configuration.streamKeepAliveInterval
        let registry = services.registry
        let claim = BodyClaim(meter: meter) { await routing.abandon() }
        let ready = meter
        let body = ResponseBody { (writer: inout any ResponseBodyWriter) in
            claim.claim()
            var meter = ready
            var dispatch: InferenceDispatch?
            do {
                while dispatch == nil {
                    try Task.checkCancellation()
                    let comment = routing.isSent ? Self.running : Self.comment(await registry.warming(model.id))
                    try await writer.write(ByteBuffer(string: comment))
                    do throws(APIError) {
                        dispatch = try await routing.advance(until: .now + interval)
                    } catch {
                        meter.finish(status: error.status, usage: nil, code: error.code)
                        try? await writer.write(ByteBuffer(string: encoder.errorFrame(error) + ServerSentEvents.done))
                        try? await writer.finish(nil)
                        return
                    }
                }
            } catch {
                // The client left while waiting: give back whatever the request holds.
                await routing.abandon()
                meter.finish(status: 499, usage: nil)
                return
            }
            let opened = dispatch!
            meter.served(by: opened)
            // The node's proof, as headers would have carried it had one been chosen in time.
            let node = opened.connection.node
            try? await writer.write(ByteBuffer(string: ": porten node \(node.id) region \(node.region)\n\n"))
            await ChatCompletionsController.relay(opened, encoder: encoder, includeUsage: chat.includeUsage, meter: &meter, to: &writer)
        }
        return Response(status: .ok, headers: ChatCompletionsController.streamHeaders([:]), body: body)
    }

    /// While the node has the request and has not answered yet (its prompt is being read).
    static let running = ": porten running\n\n"

    /// `: porten warming downloading 42%` (or `queued` while every node is busy).
    static func comment(_ status: WarmingStatus) -> String {
        let state = status.ready ? "queued" : "warming \(status.phase) \(status.pct)%"
        return ": porten \(state)\n\n"
    }

}

/// A response body that may never run: Hummingbird writes the head first, and a client already
/// gone fails that write, so the body closure is dropped unrun. Then nobody would let go of what
/// the request holds (its node's slot, its place in a queue) or meter it; the claim does both
/// when it is released unclaimed.
final class BodyClaim: Sendable {
    private let meter: UsageMeter
    private let release: @Sendable () async -> Void
    private let claimed = Mutex(false)

    init(meter: UsageMeter, release: @escaping @Sendable () async -> Void) {
        self.meter = meter
        self.release = release
    }

    func claim() { claimed.withLock { $0 = true } }

    deinit {
        guard !claimed.withLock({ $0 }) else { return }
        let (release, meter) = (release, meter)
        // Nothing else is left to wait for it: the request is over.
        Task {
            await release()
            meter.finish(status: 499, usage: nil)
        }
    }
}
