import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAIWire

/// Sends a request that no node of this replica can take to the replica whose node can
/// (``ReplicaDirectory``), over its internal endpoint (`/internal/v1/…`, `--replica-token`), and
/// streams its answer back as it comes: status, headers and body, SSE included. The other replica
/// authenticates the key, applies its policy and rate limits, meters the request under the same
/// request id, and never forwards it again.
struct ReplicaForward: Sendable {
    let services: HubServices


    /// The other replica's answer when this replica has no node for `model` under the key's
    /// policy and another one has; nil to serve (or refuse) it here.
    func ifElsewhere(
        _ path: String, model: CatalogModel, key: AuthenticatedKey, body: JSONValue, request: Request, context: HubRequestContext
    ) async -> Response? {
        guard let directory = services.replicas, !context.forwarded, let presented = request.headers.bearerToken else { return nil }
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
        do {
            // The other replica bounds the request itself (queue budget, warm-up, idle timeout);
            // this deadline only stops a replica that never answers at all.
            let answer = try await Self.client.execute(upstream, deadline: .now() + .hours(2))
            var headers = HTTPFields()
            for header in answer.headers {
                guard let name = HTTPField.Name(header.name), Self.relayed.contains(name) else { continue }
                headers.append(HTTPField(name: name, value: header.value))
            }
            headers[.portenReplica] = replica.id
            services.logger.debug(
                "forwarded to another replica", metadata: ["request_id": .string(context.requestID), "replica": .string(replica.id)])
            return Response(status: .init(code: Int(answer.status.code)), headers: headers, body: ResponseBody(asyncSequence: answer.body))
        } catch {
            // Not reachable after all: this replica answers (or refuses) the request itself.
            services.logger.warning(
                "could not forward to replica \(replica.id) at \(replica.url): \(error)", metadata: ["request_id": .string(context.requestID)])
            return nil
        }
    }

    /// Where a request goes when not here: nowhere while a node here has `model` ready, loading
    /// or busy; to another replica when no node here may take it at all; and when it is cold
    /// here, to a replica that has it warm, else here if this replica wins the model's load claim
    /// (`porten:load:<model>` in Redis), else to the replica that won it once it announces the load
    /// (within about two seconds; past that, here). So simultaneous cold requests on several
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
            for _ in 0..<10 {
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
        configuration.timeout = .init(connect: .seconds(2))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 4096
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// The headers of the other replica's answer that reach the client.
    static let relayed: Set<HTTPField.Name> = [.contentType, .cacheControl, .retryAfter, .portenNode, .portenRegion]
}
