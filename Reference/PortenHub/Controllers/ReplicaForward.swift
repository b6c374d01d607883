import AsyncHTTPClient
import Foundation
import Logging
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import OpenAIWire

/// Sends a request that no node of this replica can take to the replica whose node can
/// (``ReplicaDirectory``), over its internal endpoint (`/internal/v1/…`, `--replica-token`), and
/// streams its answer back as it comes: status, headers and body, SSE included. The other replica
/// authenticates the key, applies its policy and rate limits, meters the request under the same
/// request id, and never forwards it again.
struct ReplicaForward: Sendable {
    let services: HubServices


    /// The other replica's answer when this replica has no node for `model` under the key's
    /// policy and another one has; nil to serve (or refuse) it here: also when the other replica
    /// could not be reached, or turned out not to be the one announced. A replica that was reached
    /// but failed before answering is a `502` (the request may have run there: it is not run twice).
    @inline(never)  // its frame stays out of its callers' frames (an idle stream holds them)
    func ifElsewhere(
        _ path: String, model: CatalogModel, key: AuthenticatedKey, body: JSONValue, request: Request, context: HubRequestContext
    ) async throws(APIError) -> Response? {
        guard let directory = services.replicas, !context.forwarded, let presented = request.headers.bearerToken,
            key.policy.allowsModel(model.id)  // refused here exactly as there, without a hop
        else { return nil }
        guard let replica = await Self.replica(for: model, caller: key.caller, registry: services.registry, directory: directory) else { return nil }
        var upstream = HTTPClientRequest(url: replica.url + "/internal/v1/" + path)
        upstream.method = .POST
        upstream.headers.add(name: "Authorization", value: "Bearer \(presented)")
        upstream.headers.add(name: "Content-Type", value: "application/json")
        upstream.headers.add(name: HTTPField.Name.portenReplicaToken.rawName, value: directory.token)
        upstream.headers.add(name: HTTPField.Name.portenForwardedRequestID.rawName, value: context.requestID)
        // The client's own budgets hold on the replica that runs the request.
        for name in [HTTPField.Name.portenWarmupBudget, .portenQueueBudget] {
            if let value = request.headers[name] { upstream.headers.add(name: name.rawName, value: value) }
        }
        upstream.body = .bytes(ByteBuffer(string: JSONText.compact(body)))
        let metadata: Logger.Metadata = ["request_id": .string(context.requestID), "replica": .string(replica.id), "url": .string(replica.url)]
        let answer: HTTPClientResponse
        do {
            // The other replica bounds the request itself (queue budget, warm-up, idle timeout);
            // this deadline only stops a replica that never answers at all.
            answer = try await Self.client.execute(upstream, deadline: .now() + .hours(2))
        } catch where Self.neverConnected(error) {
            directory.markUnreachable(replica.id)
            services.logger.warning("could not reach replica \(replica.id) at \(replica.url): \(error); serving here", metadata: metadata)
            return nil
        } catch {
            services.logger.error("replica \(replica.id) failed before answering: \(error)", metadata: metadata)
            throw APIError(
                status: 502, message: "The Hub replica running this request failed before it answered; retry.", type: "api_error",
                code: "replica_error")
        }
        // A replica answers with its id, refusals included. Without one (a wrong --replica-url, a
        // token that does not match: a 404 that ran nothing) the answer is not relayed and the
        // request is served here. Another replica's id (--replica-url names a load balancer) means
        // the request ran there: its answer is relayed, as running it again here would bill it twice.
        guard let answeredBy = answer.headers.first(name: HTTPField.Name.portenReplica.rawName) else {
            services.logger.error(
                "\(replica.url) answered \(answer.status.code) without a replica id instead of replica \(replica.id): check --replica-url and --replica-token; serving here",
                metadata: metadata)
            directory.markUnreachable(replica.id)
            return nil
        }
        if answeredBy != replica.id {
            services.logger.error(
                "\(replica.url) answered as replica \(answeredBy) instead of replica \(replica.id): check --replica-url (each replica's own address)",
                metadata: metadata)
            directory.markUnreachable(replica.id)
        }
        var headers = HTTPFields()
        for header in answer.headers {
            guard let name = HTTPField.Name(header.name), Self.relayed.contains(name) else { continue }
            headers.append(HTTPField(name: name, value: header.value))
        }
        services.logger.debug("forwarded to another replica", metadata: metadata)
        let isStream = headers[.contentType]?.hasPrefix("text/event-stream") == true
        let logger = services.logger
        return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: ResponseBody { writer in
            var received = false
            do {
                for try await chunk in answer.body {
                    received = true
                    try await writer.write(chunk)
                }
            } catch {
                // The other replica went away mid-answer: a stream ends with an in-stream error, as
                // any stream whose node fails does; a JSON body is cut (the client sees it broken).
                logger.error("replica \(replica.id) broke off its answer: \(error)", metadata: metadata)
                if isStream, received {
                    let failure = APIError(
                        status: 502, message: "The Hub replica running this request went away mid-answer.", type: "api_error", code: "replica_error")
                    try? await writer.write(ByteBuffer(string: ChatStreamEncoder.errorEvent(failure) + ServerSentEvents.done))
                    try? await writer.finish(nil)
                }
                return
            }
            try await writer.finish(nil)
        })
    }

    /// Whether `error` happened before the request reached the other replica (it did not run there).
    static func neverConnected(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError, error == .connectTimeout || error == .getConnectionFromPoolTimeout { return true }
        if error is NIOConnectionError { return true }
        if let error = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH].contains(error.errnoCode) { return true }
        return false
    }

    /// Where a request goes when not here: nowhere while a node here has `model` ready, loading
    /// or busy; to another replica when no node here may take it at all; and when it is cold
    /// here, to a replica that has it warm, else here if this replica wins the model's load claim
    /// (`porten:load:<model>` in Redis), else to the replica that won it once it announces the load
    /// (waiting up to five seconds for that; past them, here). So simultaneous cold requests on several
    /// replicas make one load, and every waiter wakes on it.
    static func replica(
        for model: CatalogModel, caller: PolicyRouting.Caller, registry: NodeRegistry, directory: ReplicaDirectory
    ) async -> ReplicaDirectory.Replica? {
        switch await registry.localRoute(model, for: caller) {
        case .unplaceable:
            return await directory.target(for: model, caller: caller)
        case .load:
            if let warm = await directory.target(for: model, caller: caller, warmOnly: true) { return warm }
            if await directory.claimLoad(of: model.id, for: .seconds(30)) { return nil }
            // The winner announces its load within a second or two (longer on a loaded machine).
            for _ in 0..<25 {
                try? await Task.sleep(for: .milliseconds(200))
                if let warm = await directory.target(for: model, caller: caller, warmOnly: true, fresh: true) { return warm }
            }
            return nil
        case .dispatch, .awaitLoad, .saturated:
            return nil
        }
    }

    /// Between replicas: a replica that does not accept the connection within 2 s is not tried
    /// again for this request (it is gone: this replica answers), and every request in flight has
    /// a connection of its own (streams last).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        // Between reads: B is silent before its answer for at most its warm-up and queue budgets
        // and a node's idle timeout (a stream sends keep-alive comments meanwhile).
        configuration.timeout = .init(connect: .seconds(2), read: .minutes(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 4096
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The headers of the other replica's answer that reach the client.
    static let relayed: Set<HTTPField.Name> = [.contentType, .cacheControl, .retryAfter, .portenNode, .portenRegion, .portenReplica]
}
