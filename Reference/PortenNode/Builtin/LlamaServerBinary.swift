import Foundation

/// Finds the `llama-server` executable the builtin engine runs: `PORTEN_LLAMA_SERVER` when set,
/// else the first `llama-server` on `PATH`. A missing binary stops the agent at start.
public enum LlamaServerBinary {
    public struct NotFound: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The executable to run. `explicit` is `--llama-server` / `PORTEN_LLAMA_SERVER`, `path` is `PATH`.
    public static func locate(explicit: String?, path: String?) throws(NotFound) -> URL {
        if let explicit, !explicit.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw NotFound(description: "PORTEN_LLAMA_SERVER (--llama-server) is '\(explicit)', which is not an executable file.")
            }
            return URL(fileURLWithPath: explicit)
        }
        guard let found = onPath("llama-server", path: path) else {
            throw NotFound(
                description: "The builtin engine needs llama.cpp's llama-server: none on PATH. Install it, or set PORTEN_LLAMA_SERVER (--llama-server) to its path.")
        }
        return found
    }

    /// The first executable called `name` in the directories of `path`.
    static func onPath(_ name: String, path: String?) -> URL? {
        for directory in (path ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
