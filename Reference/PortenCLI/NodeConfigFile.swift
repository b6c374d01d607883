import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `~/.config/porten/node.json` (mode 0600): what `porten login` / `porten enroll` learned — the
/// Hub, the node's credential — and the engine settings in force then, so `porten node` runs
/// with no flags. Flags and `PORTEN_*` variables still win over it.
struct NodeConfigFile: Codable, Equatable {
    var hubURL: String?
    var credential: String?
    var nodeID: String?
    var nodeName: String?
    var engine: String?
    var engineURL: String?
    var engineModels: String?
    /// The `openai` engine's upstream key: kept here (0600), never baked into a service file.
    var engineAPIKey: String?
    var vramBudgetMB: Int?
    var autoDownloadMB: Int?

    enum CodingKeys: String, CodingKey {
        case credential, engine
        case hubURL = "hub_url", nodeID = "node_id", nodeName = "node_name", engineURL = "engine_url", engineModels = "engine_models"
        case engineAPIKey = "engine_api_key"
        case vramBudgetMB = "vram_budget_mb", autoDownloadMB = "auto_download_mb"
    }

    /// `$PORTEN_CONFIG`, else `$XDG_CONFIG_HOME/porten/node.json`, else `~/.config/porten/node.json`.
    static var path: String {
        if let explicit = environment("PORTEN_CONFIG") { return explicit }
        let base = environment("XDG_CONFIG_HOME") ?? (homeDirectory() + "/.config")
        return base + "/porten/node.json"
    }

    /// The file's contents; nil when there is none.
    static func load() throws -> NodeConfigFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("Cannot read \(path).") }
        do {
            return try JSONDecoder().decode(NodeConfigFile.self, from: data)
        } catch {
            throw ValidationError("\(path) is not a valid node configuration: \(error). Fix it, or run porten login again.")
        }
    }

    /// Writes the file readable by its owner only (directory 0700, file 0600 from its creation), atomically.
    func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try PrivateFile.write(try encoder.encode(self), to: Self.path)
    }

    /// Keeps a new node's credential from the Hub's answer (login or enroll), with this shell's
    /// engine settings, and saves the file.
    mutating func saveCredential(_ credential: String, hub: String, answer: [String: Any]) throws {
        hubURL = hub
        self.credential = credential
        nodeID = answer["node_id"] as? String
        nodeName = answer["name"] as? String
        takeEngineSettingsFromEnvironment()
        try save()
    }

    /// The engine settings of this shell (`PORTEN_ENGINE`, …), to remember with a new credential.
    mutating func takeEngineSettingsFromEnvironment() {
        engine = environment("PORTEN_ENGINE") ?? engine
        engineURL = environment("PORTEN_ENGINE_URL") ?? engineURL
        engineModels = environment("PORTEN_ENGINE_MODELS") ?? engineModels
        engineAPIKey = environment("PORTEN_ENGINE_API_KEY") ?? engineAPIKey
        vramBudgetMB = environment("PORTEN_VRAM_BUDGET_MB").flatMap(Int.init) ?? vramBudgetMB
        autoDownloadMB = environment("PORTEN_AUTO_DOWNLOAD_MB").flatMap(Int.init) ?? autoDownloadMB
    }
}

/// The Hub's base URL as the node commands take it: `--hub`, `PORTEN_HUB_URL`, or node.json.
func hubBase(_ explicit: String?, config: NodeConfigFile?) throws -> String {
    guard var base = explicit ?? environment("PORTEN_HUB_URL") ?? config?.hubURL else {
        throw ValidationError("Missing --hub (or PORTEN_HUB_URL): the Hub's URL, such as https://hub.example.com.")
    }
    while base.hasSuffix("/") { base.removeLast() }
    if base.hasSuffix("/v1") { base.removeLast(3) }
    guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
        throw ValidationError("Invalid Hub URL '\(base)': use http(s)://host[:port].")
    }
    return base
}

/// A small HTTP exchange with the Hub: JSON or form body out, JSON object back.
enum HubCall {
    static func post(_ url: String, form: [String: String]? = nil, json: [String: Any]? = nil) async throws -> (status: Int, body: [String: Any]) {
        guard let target = URL(string: url) else { throw ValidationError("Invalid URL \(url).") }
        var request = URLRequest(url: target, timeoutInterval: 30)
        request.httpMethod = "POST"
        if let form {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            request.httpBody = Data(
                form.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
                    .joined(separator: "&").utf8)
        } else if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw ValidationError("Cannot reach the Hub at \(url): \(error.localizedDescription)")
        }
        let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, body)
    }
}

/// Files that hold secrets: created with mode 0600 (never readable by others, not even for a
/// moment), in a directory made 0700, and moved into place atomically.
enum PrivateFile {
    static func write(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard chmod(directory, 0o700) == 0 else { throw ValidationError("Cannot restrict \(directory) to its owner.") }
        let temporary = directory + "/.\((path as NSString).lastPathComponent).\(ProcessInfo.processInfo.processIdentifier)"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw ValidationError("Cannot create \(temporary).") }
        let written = data.withUnsafeBytes { bytes in Foundation.write(descriptor, bytes.baseAddress, bytes.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == data.count, synced == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ValidationError("Cannot write \(path).")
        }
    }
}
