import Foundation
import PortenHub

/// The Hub's data directory: the SQLite database and small secret files (mode 0600).
struct DataDirectory {
    let path: String

    /// Creates the directory (0700) if needed; an existing one keeps its mode (it may be shared).
    /// Files the process creates from here on — the database, its WAL and shared-memory files,
    /// secrets — are readable by its owner only.
    init(_ path: String) throws {
        self.path = path
        umask(0o077)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A database created by an earlier version under a looser umask.
        for file in ["porten.db", "porten.db-wal", "porten.db-shm"] where FileManager.default.fileExists(atPath: path + "/" + file) {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path + "/" + file)
        }
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
