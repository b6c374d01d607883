import ArgumentParser
import Foundation
import Hummingbird
import PortenHub
import PortenRedis

/// `porten hub`: runs the Hub on SQLite until interrupted.
struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hub", abstract: "Run the Hub.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8080
    @Option(help: "Directory for the SQLite database and the stored operator token.") var dataDir = ".data/hub"
    @Option(help: "Catalog file (JSON); the built-in ref-* sim catalog when omitted.") var catalog: String?
    @Option(help: "Operator token for /admin/v1 (env PORTEN_ADMIN_TOKEN); generated and stored in the data dir when omitted.")
    var adminToken: String?
    @Option(help: "Largest accepted request body in bytes.") var maxBodyBytes = 16 << 20
    @Option(help: "Seconds a node may stay silent about a request before it fails with 504.") var requestIdleTimeout = 120.0
    @Option(help: "Seconds a request for a cold model waits for its load before 503 model_warming.") var warmupBudget = 300.0
    @Option(help: "Demand window in seconds; a provisioned model idle for a whole window is unloaded.") var demandWindow = 600.0
    @Option(help: "Seconds a request waits for a slot when every node serving its model is busy, before 503 no_available_node.")
    var queueBudget = 30.0
    @Option(help: "Requests that may wait in one model's queue; past it, 503 at once.") var queueLength = 1000
    @Option(help: "Seconds of queueing on a model before another provisionable node loads a replica of it (0: never).")
    var replicaAfter = 5.0
    @Option(help: "Seconds a client connection may send nothing (unfinished request head or body, or idle between requests) before it is closed.")
    var idleTimeout = 30.0
    @Option(help: "Seconds a request body may take from its head to its end.") var bodyTimeout = 120.0
    @Option(help: "Connections held at once (default: from the open-files limit, at most 16384).") var maxConnections: Int?
    @Option(help: "Largest answer a node may send for one request, in bytes (502 beyond it).") var maxAnswerBytes = 16 << 20
    @Option(help: "The Hub's public base URL, e.g. https://hub.example.com: set-password links use it; https marks session cookies Secure.")
    var publicURL: String?
    @Flag(help: "Let people create their own account at /signup.") var allowSignup = false
    @Option(help: "Region of machines enrolled with porten login or an enrollment token.") var newNodeRegion = "local"
    @Option(help: "Trust class of enrolled machines: community, verified, trusted or confidential.") var newNodeTrustClass = "community"
    @Option(help: "Seconds a porten login code stays valid.") var deviceCodeLifetime = 600
    @Option(help: "Seconds porten login waits between polls.") var devicePollInterval = 5
    @Option(help: "The operator's share of each request's price, 0 to 1 (e.g. 0.2); the node's owner earns the rest.") var platformFee = "0"
    @Flag(help: "Refuse requests (429 insufficient_quota) of accounts whose balance is not positive; grant credit with porten admin credits add.")
    var requireCredit = false
    @Option(help: "The ledger's currency (ISO 4217).") var currency = "EUR"
    @Option(help: "Seconds a streamed request may wait for a node before it gets 200 and SSE keep-alive comments (0: never).")
    var streamKeepaliveAfter = 10.0
    @Option(help: "Seconds between SSE keep-alive comments while a streamed request waits.") var streamKeepaliveInterval = 5.0
    @Option(help: "Redis shared by the Hub's replicas, redis://[[user]:password@]host[:port][/db] (env PORTEN_REDIS_URL): the keys' rate limits count across every replica on it.")
    var redisURL: String?
    @Option(help: "With --redis-url: the secret the Hub's replicas share to forward requests to each other's nodes (env PORTEN_REPLICA_TOKEN).")
    var replicaToken: String?
    @Option(help: "With --replica-token: this replica's URL as the others reach it (default http://HOST:PORT; needed when --host is 0.0.0.0 or ::).")
    var replicaURL: String?
    @Option(help: "PostgreSQL shared by the Hub's replicas, postgres://user:password@host:5432/database[?sslmode=require] (env PORTEN_DATABASE_URL); SQLite in --data-dir when omitted.")
    var databaseURL: String?
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard maxBodyBytes > 0 else { throw ValidationError("--max-body-bytes must be positive.") }
        guard maxAnswerBytes > 0 else { throw ValidationError("--max-answer-bytes must be positive.") }
        guard (maxConnections ?? 1) > 0 else { throw ValidationError("--max-connections must be positive.") }
        guard queueLength >= 0 else { throw ValidationError("--queue-length cannot be negative.") }
        guard replicaAfter >= 0, replicaAfter.isFinite else { throw ValidationError("--replica-after takes seconds, 0 or more.") }
        guard newNodeRegion.count <= 32, !newNodeRegion.isEmpty,
            newNodeRegion.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") })
        else { throw ValidationError("--new-node-region must be a region code such as eu or eu-de; got '\(newNodeRegion)'.") }
        guard ["community", "verified", "trusted", "confidential"].contains(newNodeTrustClass) else {
            throw ValidationError("--new-node-trust-class must be community, verified, trusted or confidential; got '\(newNodeTrustClass)'.")
        }
        guard (10...86_400).contains(deviceCodeLifetime) else { throw ValidationError("--device-code-lifetime must be 10 to 86400 seconds.") }
        guard (1...60).contains(devicePollInterval) else { throw ValidationError("--device-poll-interval must be 1 to 60 seconds.") }
        guard Self.basisPoints(platformFee) != nil else {
            throw ValidationError("--platform-fee must be a decimal from 0 to 1 with at most 4 decimals, such as 0.2; got '\(platformFee)'.")
        }
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw ValidationError("--currency must be an ISO 4217 code such as EUR; got '\(currency)'.")
        }
        if let publicURL, !(publicURL.hasPrefix("http://") || publicURL.hasPrefix("https://")) || URL(string: publicURL)?.host == nil {
            throw ValidationError("--public-url must be an http:// or https:// URL such as https://hub.example.com; got '\(publicURL)'.")
        }
        for (name, value, minimum) in [
            ("--request-idle-timeout", requestIdleTimeout, 0.001), ("--warmup-budget", warmupBudget, 0), ("--demand-window", demandWindow, 0.001),
            ("--idle-timeout", idleTimeout, 0.001), ("--body-timeout", bodyTimeout, 0.001), ("--queue-budget", queueBudget, 0),
            ("--stream-keepalive-after", streamKeepaliveAfter, 0), ("--stream-keepalive-interval", streamKeepaliveInterval, 0.1),
        ] {
            guard value >= minimum, value <= Self.longestDuration else {
                throw ValidationError("\(name) must be \(minimum == 0 ? "0" : "more than 0") to \(Int(Self.longestDuration)) seconds; got \(value).")
            }
        }
    }

    /// `0.2` → 2000 basis points, exactly (no floating point); nil outside 0…1 or past 4 decimals.
    static func basisPoints(_ text: String) -> Int? {
        guard let money = Money(decimal: text), money.micros >= 0, money.micros <= 1_000_000, money.micros % 100 == 0 else { return nil }
        return Int(money.micros / 100)
    }

    /// The longest any of the Hub's durations may be: a week.
    static let longestDuration = 7.0 * 86_400

    func run() async throws {
        let logger = logging.makeLogger("porten.hub")
        let openFiles = ProcessLimits.raiseOpenFiles()
        let data = try DataDirectory(dataDir)
        var configuration = HubConfiguration(
            host: host, port: port, databasePath: data.databasePath, catalog: try catalog.map(Catalog.init(contentsOf:)) ?? .reference,
            adminToken: try data.adminToken(explicit: adminToken ?? environment("PORTEN_ADMIN_TOKEN")), maximumBodySize: maxBodyBytes,
            requestIdleTimeout: .seconds(requestIdleTimeout), warmupBudget: .seconds(warmupBudget), demandWindow: .seconds(demandWindow))
        configuration.idleTimeout = .seconds(idleTimeout)
        configuration.bodyTimeout = .seconds(bodyTimeout)
        configuration.maximumConnections = maxConnections ?? ProcessLimits.defaultMaximumConnections(openFiles: openFiles)
        configuration.maximumAnswerSize = maxAnswerBytes
        configuration.queueBudget = .seconds(queueBudget)
        configuration.maximumQueueLength = queueLength
        configuration.replicaAfter = replicaAfter > 0 ? .seconds(replicaAfter) : nil
        configuration.publicURL = publicURL
        configuration.allowSignup = allowSignup
        configuration.enrollmentPolicy = EnrollmentPolicy(region: newNodeRegion, trustClass: newNodeTrustClass)
        configuration.deviceCodeLifetime = .seconds(deviceCodeLifetime)
        configuration.devicePollInterval = devicePollInterval
        configuration.ledger = LedgerPolicy(feeBasisPoints: Self.basisPoints(platformFee)!)
        configuration.requireCredit = requireCredit
        configuration.currency = currency
        configuration.streamKeepAliveAfter = streamKeepaliveAfter > 0 ? .seconds(streamKeepaliveAfter) : nil
        configuration.streamKeepAliveInterval = .seconds(streamKeepaliveInterval)
        if let url = redisURL ?? environment("PORTEN_REDIS_URL") {
            do { configuration.redis = try RedisConfiguration(url: url) } catch { throw ValidationError("--redis-url: \(error)") }
        }
        if let token = replicaToken ?? environment("PORTEN_REPLICA_TOKEN") {
            guard configuration.redis != nil else { throw ValidationError("--replica-token needs --redis-url: the replicas find each other's nodes there.") }
            guard token.utf8.count >= 16 else { throw ValidationError("--replica-token must be at least 16 characters.") }
            guard let url = replicaURL ?? (["0.0.0.0", "::", ""].contains(host) || port == 0 ? nil : "http://\(host.contains(":") ? "[\(host)]" : host):\(port)") else {
                throw ValidationError("Pass --replica-url: with --host \(host) --port \(port) the other replicas cannot tell where this one is.")
            }
            configuration.replicaToken = token
            configuration.replicaURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        } else if configuration.redis != nil {
            logger.notice("replicas share rate limits but do not forward requests to each other's nodes: set --replica-token to do so")
        }
        logger.info("accepting up to \(configuration.maximumConnections) connections (open-files limit \(openFiles))")
        let host = self.host
        guard let url = databaseURL ?? environment("PORTEN_DATABASE_URL") else {
            let (application, services) = try await HubApplication.build(configuration: configuration, logger: logger) { port in
                Console.write("PORTEN_BASE_URL=http://\(host):\(port)/v1")
            }
            try await application.runService()
            return await services.usage.drained()
        }
        let store: PostgresStore
        do { store = try PostgresStore(url: url, logger: logger) } catch { throw ValidationError("--database-url: \(error)") }
        try await store.withRunning {
            do { try await store.check() } catch { throw CLIError("cannot reach the database at \(store.endpoint): \(error)") }
            let applied = try await store.migrate()
            logger.info("database \(store.endpoint): \(applied.isEmpty ? "schema up to date" : "applied \(applied.joined(separator: ", "))")")
            let (application, services) = try await HubApplication.build(configuration: configuration, store: store, logger: logger) { port in
                Console.write("PORTEN_BASE_URL=http://\(host):\(port)/v1")
            }
            try await application.runService()
            await services.usage.drained()  // before the pool stops
        }
    }
}
