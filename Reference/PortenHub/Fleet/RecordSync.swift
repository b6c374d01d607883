import Logging
import Synchronization
import ServiceLifecycle

/// Keeps what this replica holds in memory in step with the database that replicas share: a node
/// tunnelled here whose record another replica (or `porten admin` elsewhere) revoked, moved to
/// another region or trust class, or whose account it disabled, is disconnected (it reconnects,
/// if it still may, under its new record: routing never uses a stale region or trust class for
/// long); and the operator's catalog switches made on another replica apply here. Alone, the Hub
/// makes these changes itself at once; this catches the ones made elsewhere, within `interval`.
/// While the database does not answer, nothing changes here.
final class RecordSync: Service, Sendable {
    let services: HubServices
    let interval: Duration
    private let failing = Mutex(false)

    init(services: HubServices, interval: Duration) {
        self.services = services
        self.interval = interval
    }

    func run() async {
        await repeatUntilShutdown(every: interval) { await self.sync() }
    }

    func sync() async {
        do {
            let records = Dictionary(try await services.store.nodes().map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            let disabled = Set(try await services.store.accounts().filter { $0.disabledAt != nil }.map(\.id))
            for connection in await services.registry.connections() {
                let held = connection.node
                let reason: String? =
                    switch records[held.id] {
                    case nil: "node removed"
                    case let record? where record.revokedAt != nil: "node revoked"
                    case let record? where disabled.contains(record.accountID): "account disabled"
                    case let record? where record.region != held.region || record.trustClass != held.trustClass: "node record changed"
                    default: nil
                    }
                guard let reason else { continue }
                services.logger.info("disconnecting a node changed elsewhere", metadata: ["node": .string(held.id), "reason": .string(reason)])
                await services.disconnectNode(held.id, reason: reason)
            }
            // The operator's switches (not the catalog rows each starting replica rewrites from its file).
            let current = services.catalog
            let live = Dictionary(current.models.map { ($0.id, $0.enabled) }, uniquingKeysWith: { $1 })
            for model in try await services.store.applyingSwitches(to: current).models where live[model.id].map({ $0 != model.enabled }) == true {
                services.liveCatalog.setEnabled(model.id, model.enabled)
                services.logger.info("catalog switch made elsewhere", metadata: ["model": .string(model.id), "enabled": .stringConvertible(model.enabled)])
            }
            failing.withLock { $0 = false }
        } catch {
            // Once per outage: the nodes here keep their records until the database answers.
            if !failing.withLock({ failing in defer { failing = true }; return failing }) {
                services.logger.warning("node records and catalog switches not synced with the database: \(error)")
            }
        }
    }
}
