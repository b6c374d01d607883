import Foundation

/// The memory a builtin node offers for models when `PORTEN_VRAM_BUDGET_MB` is not set: the
/// total of the NVIDIA GPUs `nvidia-smi` reports, else half the RAM (llama-server on the CPU).
public enum VRAMProbe {
    public struct Finding: Sendable, Equatable {
        public var megabytes: Int
        /// Where the number came from, for the agent's log.
        public var source: String
    }

    public static func detect(path: String?) -> Finding {
        if let smi = LlamaServerBinary.onPath("nvidia-smi", path: path),
            let output = run(smi, ["--query-gpu=memory.total", "--format=csv,noheader,nounits"]),
            let total = parseNvidiaSMI(output)
        {
            return Finding(megabytes: total, source: "nvidia-smi")
        }
        return Finding(megabytes: Int(ProcessInfo.processInfo.physicalMemory >> 20) / 2, source: "half of the RAM (no NVIDIA GPU found)")
    }

    /// The sum of `nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits` lines (MiB),
    /// or nil when there is no number.
    static func parseNvidiaSMI(_ output: String) -> Int? {
        let sizes = output.split(whereSeparator: \.isNewline).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        return sizes.isEmpty ? nil : sizes.reduce(0, +)
    }

    private static func run(_ executable: URL, _ arguments: [String]) -> String? {
        let process = Process()
        let output = Pipe()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }
}
