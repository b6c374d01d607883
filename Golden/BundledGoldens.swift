import Foundation

/// The goldens shipped with `porten-conformance` as SwiftPM resources, so the suite runs from any
/// directory. Found next to the executable (where SwiftPM puts the resource bundle) without
/// `Bundle.module`, which would stop the program if the bundle were missing.
public enum BundledGoldens {
    public static let bundleName = "porten_PortenGoldens"

    /// The directory holding `chat/`, `embeddings/`… or nil when the bundle is not beside the
    /// executable.
    public static var directory: String? {
        let base = Bundle.main.bundleURL
        let candidates = [
            base.appendingPathComponent(bundleName + ".resources"),
            base.appendingPathComponent(bundleName + ".bundle/Contents/Resources"),
            base.appendingPathComponent(bundleName + ".bundle"),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("chat").path) }?.path
    }
}
