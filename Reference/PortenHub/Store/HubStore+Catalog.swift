import GRDB

extension HubStore {
    /// Makes the stored catalog exactly `catalog` (the file is the source of truth at start).
    public func replaceCatalog(_ catalog: Catalog) throws {
        try writer.write { db in
            try CatalogModel.deleteAll(db)
            for model in catalog.models { try model.insert(db) }
        }
    }

    public func catalog() throws -> Catalog {
        try writer.read { db in Catalog(models: try CatalogModel.order(Column("id")).fetchAll(db)) }
    }
}
