import ArgumentParser
import Foundation

/// The files `porten service install` writes, and the commands it runs.
struct ServiceUnit {
    var executable: String
    /// `PORTEN_*` settings to bake in, sorted by name.
    var environment: [(String, String)]

    static let systemdName = "porten-node.service"
    static let launchdLabel = "ai.porten.node"
    static var systemdPath: String {
        (ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? homeDirectory() + "/.config")
            + "/systemd/user/" + systemdName
    }
    static var launchdPath: String { homeDirectory() + "/Library/LaunchAgents/" + launchdLabel + ".plist" }

    /// The running `porten`, by absolute path.
    static var currentExecutable: String {
        #if os(Linux)
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        #else
        Bundle.main.executablePath ?? CommandLine.arguments[0]
        #endif
    }

    /// The installing shell's `PORTEN_*` variables, except secrets: anything named like a key,
    /// token, credential, secret or password, and URLs with a password in them (node.json keeps those).
    static func bakedEnvironment(_ variables: [String: String] = ProcessInfo.processInfo.environment) -> [(String, String)] {
        let secretWords = ["KEY", "TOKEN", "CREDENTIAL", "SECRET", "PASSWORD"]
        return variables.filter { name, value in
            name.hasPrefix("PORTEN_") && !value.isEmpty && !secretWords.contains(where: { name.contains($0) }) && !hasUserInfo(value)
        }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Whether a value is a URL carrying `user:password@`.
    static func hasUserInfo(_ value: String) -> Bool {
        guard let url = URL(string: value), url.scheme != nil else { return false }
        return url.user != nil || url.password != nil
    }

    /// A `systemd --user` unit: restarts on failure, starts with the user's session (or at boot
    /// with lingering).
    func systemd() throws -> String {
        var lines = [
            "[Unit]", "Description=Porten node agent", "After=network-online.target", "Wants=network-online.target", "",
            "[Service]", "Type=simple", "ExecStart=\(try Self.systemdWord(executable, command: true)) node",
        ]
        for (name, value) in environment { lines.append("Environment=\(try Self.systemdWord("\(name)=\(value)"))") }
        lines += ["Restart=on-failure", "RestartSec=5", "", "[Install]", "WantedBy=default.target", ""]
        return lines.joined(separator: "\n")
    }

    /// A word of a unit file, quoted: `%` doubled (specifiers), `\` and `"` escaped, and in a
    /// command line `$` doubled (variable expansion); no line breaks.
    static func systemdWord(_ text: String, command: Bool = false) throws -> String {
        guard !text.contains(where: { $0.isNewline }) else { throw ValidationError("A service setting may not contain a line break: \(text)") }
        var escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "%", with: "%%")
        if command { escaped = escaped.replacingOccurrences(of: "$", with: "$$") }
        return "\"" + escaped + "\""
    }

    /// A launchd agent: runs at login, restarted when it exits with an error.
    func launchd() throws -> String {
        for (name, value) in environment where value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw ValidationError("\(name) contains a control character, which a launchd property list cannot hold.")
        }
        let arguments = [executable, "node"].map { "        <string>\(Self.xml($0))</string>" }.joined(separator: "\n")
        let variables = environment.map { "        <key>\(Self.xml($0.0))</key>\n        <string>\(Self.xml($0.1))</string>" }.joined(separator: "\n")
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
            <plist version="1.0">
            <dict>
                <key>Label</key>
                <string>\(Self.launchdLabel)</string>
                <key>ProgramArguments</key>
                <array>
            \(arguments)
                </array>
                <key>EnvironmentVariables</key>
                <dict>
            \(variables)
                </dict>
                <key>RunAtLoad</key>
                <true/>
                <key>KeepAlive</key>
                <dict>
                    <key>SuccessfulExit</key>
                    <false/>
                </dict>
                <key>ThrottleInterval</key>
                <integer>5</integer>
                <key>StandardOutPath</key>
                <string>\(Self.xml(homeDirectory()))/Library/Logs/porten-node.log</string>
                <key>StandardErrorPath</key>
                <string>\(Self.xml(homeDirectory()))/Library/Logs/porten-node.log</string>
            </dict>
            </plist>

            """
    }

    static func xml(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&apos;")
    }

    /// Runs a system command (found on PATH), failing with its exit status.
    static func run(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        do {
            try process.run()
        } catch {
            throw LoginFailure("Cannot run \(arguments[0]): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LoginFailure("\(arguments.joined(separator: " ")) failed with status \(process.terminationStatus).")
        }
    }
}
