import Foundation

/// The curated set of models the Hub offers, loaded from a JSON file at start.
public struct Catalog: Sendable, Equatable {
    public var models: [CatalogModel]

    public init(models: [CatalogModel]) { self.models = models }

    private struct File: Codable { var models: [CatalogModel] }

    /// Parses a catalog file: `{"models": [ {id, type, ctx, …}, … ]}`.
    public init(json data: Data) throws {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw CatalogError("the catalog is not valid: \(error)")
        }
        var seen = Set<String>()
        for model in file.models {
            guard !model.id.isEmpty else { throw CatalogError("a catalog model has an empty id") }
            guard seen.insert(model.id).inserted else { throw CatalogError("the catalog lists '\(model.id)' twice") }
            guard model.ctx > 0 else { throw CatalogError("'\(model.id)' needs a positive ctx") }
            guard model.vramMB >= 0, model.diskMB >= 0 else { throw CatalogError("'\(model.id)' has a negative vram_mb or disk_mb") }
            if let ref = model.downloadRef, !(ref.hasPrefix("http://") || ref.hasPrefix("https://") || ref.hasPrefix("sim:")) {
                throw CatalogError("'\(model.id)' has download_ref '\(ref)': builtin nodes download over http:// or https://")
            }
            if let sha = model.sha256, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
                throw CatalogError("'\(model.id)' has sha256 '\(sha)': expected 64 hexadecimal digits")
            }
        }
        self.models = file.models
    }

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw CatalogError("cannot read catalog file \(path)") }
        try self.init(json: data)
    }

    /// The model `id` if it is offered (present and enabled).
    public func offered(_ id: String) -> CatalogModel? {
        models.first { $0.id == id && $0.enabled }
    }

    public var offeredModels: [CatalogModel] { models.filter(\.enabled) }

    /// The catalog of the sim engine's `ref-*` models, used by `porten dev` and the tests.
    /// `ref-large` is the one a sim node does not load at start: it shows a cold load.
    public static let reference = Catalog(models: [
        CatalogModel(id: "ref-chat", type: .chat, ctx: 8192, vramMB: 512, diskMB: 256, ownedBy: "porten-sim"),
        CatalogModel(id: "ref-tools", type: .chat, ctx: 8192, capabilities: ["tools", "json"], vramMB: 512, diskMB: 256, ownedBy: "porten-sim"),
        CatalogModel(id: "ref-reasoner", type: .chat, ctx: 16384, capabilities: ["reasoning"], vramMB: 1024, diskMB: 512, ownedBy: "porten-sim"),
        CatalogModel(id: "ref-vision", type: .chat, ctx: 8192, capabilities: ["vision"], vramMB: 1024, diskMB: 512, ownedBy: "porten-sim"),
        CatalogModel(id: "ref-embed", type: .embedding, ctx: 2048, vramMB: 256, diskMB: 128, ownedBy: "porten-sim"),
        CatalogModel(id: "ref-large", type: .chat, ctx: 32768, vramMB: 6144, diskMB: 3072, ownedBy: "porten-sim"),
    ])
}

public struct CatalogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
