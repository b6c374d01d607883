import Foundation

/// Unbuffered standard output, so a script reading `porten dev` sees each line at once.
enum Console {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

/// A non-empty environment variable.
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

/// `$HOME`, else the account's home directory: tests and installers give a machine its own HOME.
func homeDirectory() -> String {
    environment("HOME") ?? NSHomeDirectory()
}
