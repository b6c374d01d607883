import Foundation

/// The disk budget of the weights cache (`PORTEN_AUTO_DOWNLOAD_MB`): which cached files to drop
/// so an incoming download fits. Least recently used first, never a file whose model is loaded.
/// Pure; the builtin engine deletes what it returns.
public enum WeightsCache {
    public struct Entry: Sendable, Equatable {
        public var model: String
        public var bytes: Int64
        /// When a load last used the file (its modification time, so it survives restarts); older goes first.
        public var lastUsed: Date

        public init(model: String, bytes: Int64, lastUsed: Date) {
            self.model = model
            self.bytes = bytes
            self.lastUsed = lastUsed
        }
    }

    /// The models whose files to delete so `incoming` more bytes fit in `budget`, or nil when it
    /// cannot fit even after dropping everything that is not loaded.
    public static func evictions(_ entries: [Entry], loaded: Set<String>, budget: Int64, incoming: Int64) -> [String]? {
        var excess = entries.reduce(incoming) { $0 + $1.bytes } - budget
        guard excess > 0 else { return [] }
        var dropped: [String] = []
        for entry in entries.filter({ !loaded.contains($0.model) }).sorted(by: { ($0.lastUsed, $0.model) < ($1.lastUsed, $1.model) }) where excess > 0 {
            dropped.append(entry.model)
            excess -= entry.bytes
        }
        return excess > 0 ? nil : dropped
    }
}
