import NodeProtocol

extension AdminViews {
    /// `GET /admin/v1/fleet`.
    struct FleetView: Encodable {
        var nodes: [Node]
        /// Requests per model within the demand window.
        var demand: [String: Int]
        var demandWindowSeconds: Int
        /// Requests waiting in each model's admission queue, and the longest wait so far.
        var queues: [String: Queue]
        /// How the keys' rate limits are counted: `local` (one Hub), `shared` (Redis, across the
        /// replicas) or `per_replica` (Redis configured but unavailable).
        var rateLimits: String
        /// With `--replica-token`: this replica and the others it sees in Redis, with their nodes.
        var replicas: Replicas?

        struct Replicas: Encodable {
            var this: String
            var url: String
            var others: [Other]

            struct Other: Encodable {
                var id: String
                var url: String
                var ageMS: Int
                var nodes: [String]
                enum CodingKeys: String, CodingKey { case id, url, nodes, ageMS = "age_ms" }
            }
        }

        struct Queue: Encodable {
            var depth: Int
            var longestWaitMS: Int
            enum CodingKeys: String, CodingKey { case depth, longestWaitMS = "longest_wait_ms" }
        }

        struct Node: Encodable {
            var id: String
            var provisionable: Bool
            var vramBudgetMB: Int?
            var vramUsedMB: Int
            var concurrency: Int
            var inFlight: Int
            var models: [Model]
            var onDisk: [String]
            /// Models the node is out of rotation for after failing them, with the milliseconds left.
            var ejectedMS: [String: Int]

            init(_ node: FleetNode, loads: [String: LoadProgress], ejected: [String: Duration] = [:]) {
                ejectedMS = ejected.mapValues(\.wholeMilliseconds)
                id = node.id
                provisionable = node.provisionable
                vramBudgetMB = node.vramBudgetMB
                vramUsedMB = node.usedVRAM
                concurrency = node.concurrency
                inFlight = node.inFlight
                models = node.models.sorted { $0.key < $1.key }.map { id, hosted in
                    let load = loads[id]
                    return Model(
                        id: id, state: hosted.ready ? "ready" : load?.phase.rawValue ?? "loading", vramMB: hosted.vramMB,
                        inFlight: hosted.inFlight, pct: load?.percent)
                }
                onDisk = node.onDisk.sorted()
            }

            enum CodingKeys: String, CodingKey {
                case id, provisionable, concurrency, models
                case vramBudgetMB = "vram_budget_mb", vramUsedMB = "vram_used_mb", inFlight = "in_flight", onDisk = "on_disk"
                case ejectedMS = "ejected_ms"
            }
        }

        struct Model: Encodable {
            var id: String
            /// `ready`, `downloading` or `loading`.
            var state: String
            var vramMB: Int
            var inFlight: Int
            var pct: Int?

            enum CodingKeys: String, CodingKey { case id, state, pct, vramMB = "vram_mb", inFlight = "in_flight" }
        }

        enum CodingKeys: String, CodingKey {
            case nodes, demand, queues, replicas, demandWindowSeconds = "demand_window_seconds", rateLimits = "rate_limits"
        }
    }
}
