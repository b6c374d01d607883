import Foundation
import PortenHub

/// The Hub's data directory: the SQLite database and small secret files (mode 0600).
struct DataDirectory {
    let path: String

    init(_ path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var databasePath: String { path + "/porten.db" }

    func read(_ name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path + "/" + name) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    func write(_ name: String, _ secret: String) throws {
        let file = path + "/" + name
        guard FileManager.default.createFile(atPath: file, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("cannot write \(file)")
        }
    }

    /// The operator token: `explicit` if given, else the stored one, else a new one that is stored.
    func adminToken(explicit: String?) throws -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let stored = read("admin-token") { return stored }
        let token = "padm-" + SecretToken.randomBase62(count: 40)
        try write("admin-token", token)
        return token
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
