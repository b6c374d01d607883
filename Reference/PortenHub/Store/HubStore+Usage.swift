import GRDB

extension HubStore {
    public func insertUsage(_ records: [UsageRecord]) throws {
        try writer.write { db in
            for record in records { try record.insert(db) }
        }
    }

    /// The newest usage rows first, optionally for one key.
    public func recentUsage(limit: Int, keyID: String? = nil) throws -> [UsageRecord] {
        try writer.read { db in
            var request = UsageRecord.order(Column("id").desc).limit(limit)
            if let keyID { request = request.filter(Column("key_id") == keyID) }
            return try request.fetchAll(db)
        }
    }
}
