import Foundation
import Logging
import PortenRedis
import ServiceLifecycle
import Synchronization

/// Where the nodes are, across Hub replicas that share a Redis (`--redis-url` with
/// `--replica-token`). Every replica announces the nodes tunnelled to it, as its planner sees them,
/// every ``interval`` in one Redis hash (`porten:replicas`, a field per replica, stamped with the
/// time); an announcement older than ``freshFor`` is a replica gone (SIGKILL included) and is
/// ignored and removed. A request that no node of this replica can take goes to a replica whose
/// nodes can, chosen by the same planner under the key's policy (``target(for:caller:)``): the
/// other replica checks the key and its policy again before it runs it. When Redis cannot answer,
/// nothing is forwarded: each replica serves its own nodes (fail closed).
public final class ReplicaDirectory: Service, Sendable {
    /// Another replica and its nodes as it last announced them.
    public struct Replica: Sendable, Codable, Equatable {
        public var id: String
        /// Where the other replicas reach it (`--replica-url`).
        public var url: String
        /// When it announced this, in milliseconds since 1970.
        public var at: Int64
        public var nodes: [Node]
        /// The models ready or loading on its nodes, as its warming endpoint shows them.
        public var warming: [String: WarmingStatus]?

        public struct Node: Sendable, Codable, Equatable {
            var id: String
            var owner: String
            var region: String
            var trustClass: TrustClass
            var provisionable: Bool
            var vramBudgetMB: Int?
            var concurrency: Int
            var inFlight: Int
            var models: [String: Model]
            var onDisk: [String]

            enum CodingKeys: String, CodingKey {
                case id, owner, region, provisionable, concurrency, models
                case trustClass = "trust_class", vramBudgetMB = "vram_budget_mb", inFlight = "in_flight", onDisk = "on_disk"
            }
        }

        struct Model: Sendable, Codable, Equatable {
            var vramMB: Int
            var ready: Bool
            var inFlight: Int
            enum CodingKeys: String, CodingKey { case ready, vramMB = "vram_mb", inFlight = "in_flight" }
        }

        /// Its nodes as the planner takes them.
        func fleetNodes(now: ContinuousClock.Instant) -> [FleetNode] {
            nodes.map { node in
                FleetNode(
                    id: node.id, provisionable: node.provisionable, vramBudgetMB: node.vramBudgetMB, concurrency: node.concurrency,
                    inFlight: node.inFlight,
                    models: node.models.mapValues { HostedModel(vramMB: $0.vramMB, ready: $0.ready, inFlight: $0.inFlight, lastUsed: now) },
                    onDisk: Set(node.onDisk), owner: node.owner, region: node.region, trustClass: node.trustClass)
            }
        }
    }

    static let hash = "porten:replicas"
    public let id: String
    public let url: String
    let token: String
    private let redis: RedisClient
    private let registry: NodeRegistry
    private let logger: Logger
    let interval: Duration
    let freshFor: Duration
    /// The others' announcements, read at most every half second.
    private let cache = Mutex<(at: ContinuousClock.Instant, replicas: [Replica])?>(nil)
    /// Replicas that could not be reached, left alone until their announcement is this old again.
    private let unreachable = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(
        url: String, token: String, redis: RedisClient, registry: NodeRegistry, interval: Duration = .seconds(1), freshFor: Duration = .seconds(5),
        logger: Logger
    ) {
        id = "replica_" + SecretToken.randomBase62(count: 12)
        self.url = url
        self.token = token
        self.redis = redis
        self.registry = registry
        self.interval = interval
        self.freshFor = freshFor
        self.logger = logger
    }

    public func run() async throws {
        logger.info("replica \(id) announces its nodes for forwarding; the others reach it at \(url)")
        await withDiscardingTaskGroup { group in
            group.addTask { await self.redis.run() }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    await self.announce()
                    do { try await Task.sleep(for: self.interval) } catch { return }
                }
            }
            // Leave the directory at once (a SIGKILLed replica ages out instead), then stop.
            _ = try? await redis.send(["HDEL", Self.hash, id], timeout: .milliseconds(500))
            redis.shutdown()
        }
    }

    /// Writes this replica's nodes, stamped now.
    func announce() async {
        let nodes = await registry.fleetNodes().map { node in
            Replica.Node(
                id: node.id, owner: node.owner, region: node.region, trustClass: node.trustClass, provisionable: node.provisionable,
                vramBudgetMB: node.vramBudgetMB, concurrency: node.concurrency, inFlight: node.inFlight,
                models: node.models.mapValues { Replica.Model(vramMB: $0.vramMB, ready: $0.ready, inFlight: $0.inFlight) },
                onDisk: node.onDisk.sorted())
        }
        let announcement = Replica(id: id, url: url, at: Self.milliseconds(Date()), nodes: nodes, warming: await registry.warmingModels())
        do {
            let json = try JSONEncoder().encode(announcement)
            _ = try await redis.send(["HSET", Self.hash, id, String(decoding: json, as: UTF8.self)])
        } catch {
            logger.debug("could not announce this replica's nodes: \(error)")
        }
    }

    /// The other replicas that announced within ``freshFor``; none when Redis cannot answer.
    /// Read at most every half second unless `fresh`.
    public func others(fresh: Bool = false) async -> [Replica] {
        let now = ContinuousClock.now
        if !fresh, let cached = cache.withLock({ $0 }), now - cached.at < .milliseconds(500) { return cached.replicas }
        var replicas: [Replica] = []
        do {
            guard case .array(let fields) = try await redis.send(["HGETALL", Self.hash], timeout: .milliseconds(500)) else { return [] }
            let oldest = Self.milliseconds(Date()) - Int64(freshFor / .milliseconds(1))
            var stale: [String] = []
            let shunned = unreachable.withLock { unreachable in
                unreachable = unreachable.filter { now - $0.value < freshFor }
                return Set(unreachable.keys)
            }
            for pair in stride(from: 0, to: fields.count - 1, by: 2) {
                guard let field = fields[pair].string, field != id, let value = fields[pair + 1].bytes else { continue }
                // One this version cannot read (a newer replica during an upgrade) is left alone.
                guard let replica = try? JSONDecoder().decode(Replica.self, from: Data(buffer: value)) else { continue }
                guard replica.at >= oldest else {
                    stale.append(field)
                    continue
                }
                if !shunned.contains(replica.id) { replicas.append(replica) }
            }
            if !stale.isEmpty { _ = try? await redis.send(["HDEL", Self.hash] + stale, timeout: .milliseconds(500)) }
        } catch {
            logger.debug("the replica directory is unavailable: \(error)")
            return []
        }
        cache.withLock { $0 = (now, replicas) }
        return replicas
    }

    /// The replica to send a request for `model` from `caller` to: one with a node that has it
    /// ready and a free slot first, else one whose nodes have it loading or busy, else (unless
    /// `warmOnly`) one whose nodes can load it; nil when no replica's nodes may serve it under the
    /// key's policy.
    public func target(for model: CatalogModel, caller: PolicyRouting.Caller, warmOnly: Bool = false, fresh: Bool = false) async -> Replica? {
        let now = ContinuousClock.now
        var warm: Replica?
        var cold: Replica?
        for replica in await others(fresh: fresh) {
            switch PolicyRouting.route(model: model.id, vramMB: model.vramMB, for: caller, nodes: replica.fleetNodes(now: now), demand: { _ in 0 }) {
            case .dispatch: return replica
            case .unplaceable: continue
            case .awaitLoad, .saturated: if warm == nil { warm = replica }
            case .load: if cold == nil { cold = replica }
            }
        }
        return warm ?? (warmOnly ? nil : cold)
    }

    /// Leaves replica `id` out of forwarding for a while after it could not be reached.
    func markUnreachable(_ id: String) {
        unreachable.withLock { $0[id] = .now }
        cache.withLock { $0 = nil }
    }

    /// Claims `id`, a request id another replica forwarded, for a day: false when it was seen before.
    /// (Redis unavailable: the id is not adopted, the request is metered under a new one.)
    func claimForwardedID(_ id: String) async -> Bool {
        let reply = try? await redis.send(["SET", "porten:forwarded:" + id, self.id, "NX", "PX", "86400000"], timeout: .milliseconds(500))
        return reply == .simpleString("OK")
    }

    /// `local` (this replica's view of `model`), or another replica's when that is further along:
    /// ready anywhere is ready; else the most advanced load. Every replica answers the same.
    public func warming(_ model: String, local: WarmingStatus) async -> WarmingStatus {
        guard !local.ready else { return local }
        var best = local
        for status in await others().compactMap({ $0.warming?[model] }) {
            if status.ready { return status }
            let rank = { (status: WarmingStatus) in (status.phase == "loading" ? 2 : status.phase == "cold" ? 0 : 1, status.pct) }
            if rank(status) > rank(best) { best = status }
        }
        return best
    }

    /// Claims the load of `model` for this replica for `ttl`: true when no other replica has
    /// claimed it (or Redis cannot say: then each replica decides for itself, as alone).
    public func claimLoad(of model: String, for ttl: Duration) async -> Bool {
        let key = "porten:load:" + model
        do {
            let reply = try await redis.send(
                ["SET", key, id, "NX", "PX", String(Int(ttl / .milliseconds(1)))], timeout: .milliseconds(500))
            if reply == .simpleString("OK") { return true }
            return try await redis.send(["GET", key], timeout: .milliseconds(500)).string == id
        } catch {
            return true
        }
    }

    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}
