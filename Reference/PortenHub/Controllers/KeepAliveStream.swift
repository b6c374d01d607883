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
/// Routing runs in a task of its own so that the handler can answer before it ends; the response
/// body then waits for it, and cancels it if the client leaves.
struct KeepAliveStream: Sendable {
    let services: HubServices
    let after: Duration

    /// What routing came to, with the meter that travelled with it.
    struct Outcome: Sendable {
        var meter: UsageMeter
        var result: Result<(dispatch: InferenceDispatch, headers: HTTPFields), APIError>
    }

    func respond(
        chat: ChatCompletionRequest, model: CatalogModel, key: AuthenticatedKey, headers: HTTPFields, requestID: String, id: String, meter: UsageMeter
    ) async throws(APIError) -> Response {
        let services = services
        let box = OutcomeBox()
        let requestBody = chat.body
        let routing = Task {
            await Self.route(requestBody, model: model, key: key, headers: headers, requestID: requestID, meter: meter, services: services, into: box)
        }
        let encoder = ChatStreamEncoder(id: id, created: Int(Date().timeIntervalSince1970), model: model.id)
        if let outcome = await box.value(within: after) {
            let meter = outcome.meter
            switch outcome.result {
            case .failure(let error):
                // The caller meters the refusal (once); only the reservation travelled with routing.
                meter.reservation?.release()
                throw error
            case .success(let opened):
                let ready = meter
                let claim = BodyClaim(routing)
                let body = ResponseBody { (writer: inout any ResponseBodyWriter) in
                    claim.claim()
                    var meter = ready
                    await ChatCompletionsController.relay(opened.dispatch, encoder: encoder, includeUsage: chat.includeUsage, meter: &meter, to: &writer)
                }
                return Response(status: .ok, headers: ChatCompletionsController.streamHeaders(opened.headers), body: body)
            }
        }
        let interval = services.configuration.streamKeepAliveInterval
        let registry = services.registry
        let claim = BodyClaim(routing)
        let body = ResponseBody { (writer: inout any ResponseBodyWriter) in
            claim.claim()
            var outcome: Outcome?
            do {
                while outcome == nil {
                    try Task.checkCancellation()
                    try await writer.write(ByteBuffer(string: Self.comment(await registry.warming(model.id))))
                    outcome = await box.value(within: interval)
                }
            } catch {
                // The client left while waiting: stop routing, and give back whatever it got.
                routing.cancel()
                let late = await routing.value
                if case .success(let opened) = late.result { await opened.dispatch.close() }
                late.meter.finish(status: 499, usage: nil)
                return
            }
            var meter = outcome!.meter
            switch outcome!.result {
            case .failure(let error):
                meter.finish(status: error.status, usage: nil, code: error.code)
                try? await writer.write(ByteBuffer(string: encoder.errorFrame(error) + ServerSentEvents.done))
                try? await writer.finish(nil)
            case .success(let opened):
                // The node's proof, as headers would have carried it had one been chosen in time.
                let node = opened.dispatch.connection.node
                try? await writer.write(ByteBuffer(string: ": porten node \(node.id) region \(node.region)\n\n"))
                await ChatCompletionsController.relay(opened.dispatch, encoder: encoder, includeUsage: chat.includeUsage, meter: &meter, to: &writer)
            }
        }
        return Response(status: .ok, headers: ChatCompletionsController.streamHeaders([:]), body: body)
    }

    /// Routes the request and leaves the outcome in `box`. Not inlined: the routing task holds
    /// this frame for as long as the node takes to answer, so it should hold little.
    @inline(never)
    private static func route(
        _ body: JSONValue, model: CatalogModel, key: AuthenticatedKey, headers: HTTPFields, requestID: String, meter: UsageMeter,
        services: HubServices, into box: OutcomeBox
    ) async -> Outcome {
        var meter = meter
        do throws(APIError) {
            let opened = try await InferenceGate(services: services).open(
                .chat, model: model, body: body, key: key, headers: headers, requestID: requestID, meter: &meter)
            meter.served(by: opened.dispatch)
            return box.deliver(Outcome(meter: meter, result: .success(opened)))
        } catch {
            return box.deliver(Outcome(meter: meter, result: .failure(error)))
        }
    }

    /// `: porten warming downloading 42%` (or `queued` while every node is busy).
    static func comment(_ status: WarmingStatus) -> String {
        let state = status.ready ? "queued" : "warming \(status.phase) \(status.pct)%"
        return ": porten \(state)\n\n"
    }

}

/// A response body that may never run: Hummingbird writes the head first, and a client already
/// gone fails that write, so the body closure is dropped unrun. Then nobody would cancel the
/// routing or close the dispatch it got; the claim does it when it is released unclaimed.
final class BodyClaim: Sendable {
    private let routing: Task<KeepAliveStream.Outcome, Never>
    private let claimed = Mutex(false)

    init(_ routing: Task<KeepAliveStream.Outcome, Never>) { self.routing = routing }

    func claim() { claimed.withLock { $0 = true } }

    deinit {
        guard !claimed.withLock({ $0 }) else { return }
        let routing = routing
        // Nothing else is left to await it: the request is over.
        Task {
            routing.cancel()
            let late = await routing.value
            if case .success(let opened) = late.result { await opened.dispatch.close() }
            late.meter.finish(status: 499, usage: nil)
        }
    }
}

/// Where the routing task leaves its outcome, for whoever waits on it with a time limit (a
/// waiter that gives up is removed; the outcome stays for the next one).
final class OutcomeBox: Sendable {
    private struct State {
        var outcome: KeepAliveStream.Outcome?
        var waiters: [Int: CheckedContinuation<KeepAliveStream.Outcome?, Never>] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    /// Stores the outcome and wakes every waiter; returns it.
    func deliver(_ outcome: KeepAliveStream.Outcome) -> KeepAliveStream.Outcome {
        let waiters = state.withLock { state in
            state.outcome = outcome
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
        return outcome
    }

    /// The outcome if it is there within `limit`; nil otherwise.
    func value(within limit: Duration) async -> KeepAliveStream.Outcome? {
        let ticket = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        return await parkedWait(
            cancelled: nil, expired: nil, within: limit,
            park: { continuation in
                state.withLock { state in
                    if let outcome = state.outcome { return outcome }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[ticket] = continuation
                    return nil
                }
            },
            unpark: { self.state.withLock { $0.waiters.removeValue(forKey: ticket) } })
    }
}
