import NodeProtocol

extension SimEngine {
    /// Simulates a load: reserve VRAM, "download" `disk_mb` unless cached, then "load" `vram_mb`,
    /// reporting progress every tick at the configured speeds (docs/sim-engine.md).
    public func load(_ request: TunnelMessage.Load, progress: @Sendable (TunnelMessage.Progress) async -> Void) async throws {
        guard let provisioning else { throw EngineError("this sim node serves a fixed set of models and cannot load '\(request.model)'") }
        try await store.reserve(request.model, vramMB: request.vramMB, budgetMB: provisioning.vramBudgetMB)
        do {
            if await !store.isOnDisk(request.model) {
                let failAt = request.downloadRef == SimProvisioning.failingDownloadRef ? request.diskMB / 2 : nil
                try await simulate(.downloading, of: request, totalMB: request.diskMB, speed: provisioning.downloadMBps, failAt: failAt, progress: progress)
                await store.cache(request.model, sizeMB: request.diskMB, budgetMB: provisioning.diskBudgetMB)
            }
            try await simulate(.loading, of: request, totalMB: request.vramMB, speed: provisioning.loadMBps, failAt: nil, progress: progress)
            await store.finishLoad(request.model)
        } catch {
            await store.abandonLoad(request.model)
            throw error
        }
    }

    public func unload(model: String) async {
        // Stopping takes time only when something runs.
        if let unloadTime = provisioning?.unloadTime, unloadTime > .zero, await store.isReady(model) {
            try? await Task.sleep(for: unloadTime)
        }
        await store.unload(model)
    }

    /// Counts `totalMB` up at `speed` MB/s, one progress frame per tick; fails at `failAt` MB if set.
    private func simulate(
        _ phase: TunnelMessage.Progress.Phase, of request: TunnelMessage.Load, totalMB: Int, speed: Int, failAt: Int?,
        progress: @Sendable (TunnelMessage.Progress) async -> Void
    ) async throws {
        guard let provisioning else { return }
        let perTick = max(1, Int((Double(speed) * (provisioning.tick / .seconds(1))).rounded()))
        var done = 0
        await progress(.init(model: request.model, phase: phase, doneMB: 0, totalMB: totalMB))
        while done < totalMB {
            try await Task.sleep(for: provisioning.tick)
            done = min(totalMB, done + perTick)
            if let failAt, done >= failAt {
                throw EngineError("simulated download failure at \(failAt) of \(totalMB) MB (download_ref \(SimProvisioning.failingDownloadRef))")
            }
            await progress(.init(model: request.model, phase: phase, doneMB: done, totalMB: totalMB))
        }
    }
}
