/// The sim engine's simulated memory and disk: which models are ready, loading or cached, and
/// what they take. Fixed sim nodes have every model ready and no budgets.
actor SimModelStore {
    private var ready: [String: Int]
    private var loading: [String: Int] = [:]
    /// Cached weights by model: size in MB and when they were last used (a counter, for LRU).
    private var disk: [String: (sizeMB: Int, lastUse: Int)] = [:]
    private var useCounter = 0

    init(ready: [String]) {
        self.ready = Dictionary(uniqueKeysWithValues: ready.map { ($0, 0) })
    }

    func isReady(_ model: String) -> Bool { ready[model] != nil }

    func states() -> [(id: String, ready: Bool)] {
        ready.keys.map { ($0, true) } + disk.keys.filter { ready[$0] == nil && loading[$0] == nil }.map { ($0, false) }
    }

    func isOnDisk(_ model: String) -> Bool { disk[model] != nil }

    /// Reserves `vramMB` for a load; throws when it is already there or does not fit.
    func reserve(_ model: String, vramMB: Int, budgetMB: Int) throws {
        guard ready[model] == nil, loading[model] == nil else { throw EngineError("'\(model)' is already loaded or loading") }
        let used = ready.values.reduce(0, +) + loading.values.reduce(0, +)
        guard used + vramMB <= budgetMB else {
            throw EngineError("'\(model)' needs \(vramMB) MB of VRAM; \(budgetMB - used) MB of \(budgetMB) MB are free")
        }
        loading[model] = vramMB
    }

    /// Records downloaded weights and drops least recently used ones that are not loaded, past `budgetMB`.
    func cache(_ model: String, sizeMB: Int, budgetMB: Int) {
        useCounter += 1
        disk[model] = (sizeMB, useCounter)
        var total = disk.values.reduce(0) { $0 + $1.sizeMB }
        let victims = disk.filter { $0.key != model && ready[$0.key] == nil && loading[$0.key] == nil }.sorted { $0.value.lastUse < $1.value.lastUse }
        for (victim, entry) in victims where total > budgetMB {
            disk[victim] = nil
            total -= entry.sizeMB
        }
    }

    func finishLoad(_ model: String) {
        guard let vram = loading.removeValue(forKey: model) else { return }
        ready[model] = vram
        useCounter += 1
        disk[model]?.lastUse = useCounter
    }

    func abandonLoad(_ model: String) { loading[model] = nil }

    func unload(_ model: String) { ready[model] = nil }
}
