import Foundation
import NodeProtocol

/// The builtin engine's weights cache: one `<model id>.gguf` per catalog model in a directory,
/// filled by ``WeightsDownloader`` and kept under the disk budget (`PORTEN_AUTO_DOWNLOAD_MB`) by
/// dropping least recently used files that are not in use (``WeightsCache``). A file's
/// modification time is its last use, so the order survives restarts.
actor WeightsStore {
    let directory: URL
    let budgetBytes: Int64
    let downloader: WeightsDownloader
    /// Models whose downloads are under way, with the bytes they will take.
    private var incoming: [String: Int64] = [:]

    init(directory: URL, budgetMB: Int, downloader: WeightsDownloader) {
        self.directory = directory
        self.budgetBytes = Int64(budgetMB) << 20
        self.downloader = downloader
    }

    /// Where a model's weights live (the id percent-encoded, so any id is one safe file name).
    nonisolated func file(for model: String) -> URL {
        let safe = model.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._"))) ?? model
        return directory.appendingPathComponent(safe + ".gguf")
    }

    /// The models whose weights are complete in the cache, with sizes and last use.
    func cached() -> [WeightsCache.Entry] {
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey]
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: keys)) ?? []
        return files.compactMap { file in
            guard file.pathExtension == "gguf", let model = file.deletingPathExtension().lastPathComponent.removingPercentEncoding,
                let values = try? file.resourceValues(forKeys: Set(keys))
            else { return nil }
            return WeightsCache.Entry(
                model: model, bytes: Int64(values.fileSize ?? 0), lastUsed: values.contentModificationDate ?? .distantPast)
        }
    }

    /// The model's weights file, downloaded first unless cached, reporting (bytes done, bytes in
    /// all) while downloading. `inUse` are models whose files must stay (loaded or loading).
    func ensure(_ load: TunnelMessage.Load, inUse: Set<String>, progress: @Sendable (Int64, Int64) async -> Void) async throws -> URL {
        let destination = file(for: load.model)
        if FileManager.default.fileExists(atPath: destination.path) {
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: destination.path)
            return destination
        }
        guard let url = load.downloadRef, url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw EngineError("the catalog gives no http(s) download_ref for '\(load.model)' (got \(load.downloadRef.map { "'\($0)'" } ?? "none"))")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let size = Int64(load.diskMB) << 20
        try makeRoom(for: size, model: load.model, keeping: inUse)
        incoming[load.model] = size
        defer { incoming[load.model] = nil }
        do {
            try await downloader.download(url, sha256: load.sha256, to: destination, progress: progress)
        } catch let failure as WeightsDownloader.Failure {
            throw EngineError(failure.description)
        }
        return destination
    }

    /// Deletes least recently used unused files until `bytes` more fit the budget.
    private func makeRoom(for bytes: Int64, model: String, keeping inUse: Set<String>) throws {
        let pending = incoming.map { WeightsCache.Entry(model: $0.key, bytes: $0.value, lastUsed: .distantFuture) }
        let protected = inUse.union(incoming.keys)
        guard let evicted = WeightsCache.evictions(cached() + pending, loaded: protected, budget: budgetBytes, incoming: bytes) else {
            throw EngineError(
                "the weights of '\(model)' (\(bytes >> 20) MB) do not fit the disk budget PORTEN_AUTO_DOWNLOAD_MB=\(budgetBytes >> 20) next to the models in use")
        }
        for victim in evicted { try? FileManager.default.removeItem(at: file(for: victim)) }
    }
}
