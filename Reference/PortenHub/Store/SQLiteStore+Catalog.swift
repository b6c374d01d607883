import Foundation
import GRDB

extension SQLiteStore {
    /// Makes the stored catalog exactly `catalog` (the file is the source of truth at start).
    public func replaceCatalog(_ catalog: Catalog) async throws {
        try await writer.write { db in
            try CatalogModel.deleteAll(db)
            for model in catalog.models { try model.insert(db) }
        }
    }

    /// Enables or disables `modelID` by the operator's hand; the choice outlives restarts
    /// (it is applied over the catalog file's `enabled` at start).
    public func setModelEnabled(_ modelID: String, _ enabled: Bool, now: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO catalog_switch (model_id, enabled, changed_at) VALUES (?, ?, ?) ON CONFLICT(model_id) DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at",
                arguments: [modelID, enabled, now])
            try db.execute(sql: "UPDATE catalog_model SET enabled = ? WHERE id = ?", arguments: [enabled, modelID])
        }
    }

    /// `catalog` with the operator's switches applied.
    public func applyingSwitches(to catalog: Catalog) async throws -> Catalog {
        let switches = try await writer.read { db in
            try Dictionary(
                Row.fetchAll(db, sql: "SELECT model_id, enabled FROM catalog_switch").map { ($0["model_id"] as String, $0["enabled"] as Bool) },
                uniquingKeysWith: { $1 })
        }
        var result = catalog
        for index in result.models.indices {
            if let enabled = switches[result.models[index].id] { result.models[index].enabled = enabled }
        }
        return result
    }

    public func catalog() async throws -> Catalog {
        try await writer.read { db in Catalog(models: try CatalogModel.order(Column("id")).fetchAll(db)) }
    }
}
