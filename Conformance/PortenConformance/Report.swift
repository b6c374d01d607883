import Foundation

/// The results of a run as a readable table with diagnostics, JUnit XML, or JSON.
public struct Report: Sendable {
    public var profile: String
    public var target: String
    public var results: [CaseResult]
    /// Warnings fail the run too (`--strict`).
    public var strict: Bool

    public init(profile: String, target: String, results: [CaseResult], strict: Bool = false) {
        self.profile = profile
        self.target = target
        self.results = results
        self.strict = strict
    }

    public func count(_ verdict: CaseResult.Verdict) -> Int { results.count { $0.verdict == verdict } }

    /// Exit status: 0 only when no case failed (declared divergences and warnings count as run,
    /// not failed, unless `strict`, where warnings fail).
    public var passed: Bool { count(.fail) == 0 && (!strict || count(.warn) == 0) }

    /// One line per case and failing layer, then each failure's golden, layer, pointer, expected and actual.
    public var text: String {
        let width = max(4, results.map(\.id.count).max() ?? 4)
        var lines = ["porten-conformance · profile \(profile) · \(target)", ""]
        lines.append("CASE".padding(toLength: width, withPad: " ", startingAt: 0) + "  LAYER        VERDICT")
        for result in results {
            let shown = result.verdict == .pass || result.verdict == .skip ? [nil] : result.layers.filter { $0.verdict != .pass }.map(Optional.some)
            for layer in shown {
                let verdict = result.verdict == .skip ? "skip: \(result.skipReason ?? "")" : (layer?.verdict ?? result.verdict).rawValue
                lines.append(result.id.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + (layer?.name ?? "-").padding(toLength: 11, withPad: " ", startingAt: 0) + "  " + verdict)
            }
        }
        for result in results where result.verdict != .pass && result.verdict != .skip || !result.notes.isEmpty {
            lines.append("")
            lines.append("── \(result.id)  (\(result.file))")
            for layer in result.layers {
                for mismatch in layer.failures { lines.append("   FAIL [\(layer.name)] \(mismatch)") }
                for mismatch in layer.warnings { lines.append("   WARN [\(layer.name)] \(mismatch)") }
                for (mismatch, note) in layer.declared { lines.append("   DECLARED [\(layer.name)] \(mismatch) — \(note)") }
            }
            for note in result.notes { lines.append("   NOTE \(note)") }
        }
        lines.append("")
        lines.append(
            "\(count(.pass)) passed, \(count(.fail)) failed, \(count(.warn)) with warnings, \(count(.declared)) declared divergences, \(count(.skip)) skipped"
                + (strict ? " (strict: warnings fail)" : ""))
        return lines.joined(separator: "\n")
    }

    public var junitXML: String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml += #"<testsuite name="porten-conformance.\#(escape(profile))" tests="\#(results.count)" failures="\#(count(.fail) + (strict ? count(.warn) : 0))" skipped="\#(count(.skip))">"# + "\n"
        for result in results {
            xml += #"  <testcase classname="\#(escape(profile))" name="\#(escape(result.id))" time="\#(String(format: "%.3f", result.seconds))">"#
            switch result.verdict {
            case .skip: xml += #"<skipped message="\#(escape(result.skipReason ?? ""))"/>"#
            case .fail:
                let failures = result.layers.flatMap { layer in layer.failures.map { "[\(layer.name)] \($0)" } }
                xml += #"<failure message="\#(escape(failures.first ?? ""))">\#(escape(failures.joined(separator: "\n")))</failure>"#
            case .warn where strict:
                let warnings = result.layers.flatMap { layer in layer.warnings.map { "[\(layer.name)] \($0)" } }
                xml += #"<failure message="\#(escape(warnings.first ?? ""))">\#(escape(warnings.joined(separator: "\n")))</failure>"#
            case .declared, .warn:
                let warnings = result.layers.flatMap { layer in layer.warnings.map { "WARN [\(layer.name)] \($0)" } }
                let notes = result.layers.flatMap { layer in layer.declared.map { "DECLARED [\(layer.name)] \($0.0) — \($0.1)" } }
                xml += #"<system-out>\#(escape((warnings + notes).joined(separator: "\n")))</system-out>"#
            case .pass: break
            }
            xml += "</testcase>\n"
        }
        return xml + "</testsuite>\n"
    }

    public var json: String {
        let cases: [JSON] = results.map { result in
            var object: [String: JSON] = [
                "id": .string(result.id), "file": .string(result.file), "verdict": .string(result.verdict.rawValue), "seconds": .real(result.seconds),
                "layers": .array(result.layers.map { layer in
                    .object([
                        "layer": .string(layer.name), "verdict": .string(layer.verdict.rawValue),
                        "failures": .array(layer.failures.map(Self.json)),
                        "warnings": .array(layer.warnings.map(Self.json)),
                        "declared": .array(layer.declared.map { mismatch, note in
                            var entry = Self.json(mismatch).object!
                            entry["note"] = .string(note)
                            return .object(entry)
                        }),
                    ])
                }),
            ]
            if let reason = result.skipReason { object["skip_reason"] = .string(reason) }
            if !result.notes.isEmpty { object["notes"] = .array(result.notes.map(JSON.string)) }
            return .object(object)
        }
        let summary: JSON = .object([
            "profile": .string(profile), "target": .string(target), "cases": .array(cases),
            "passed": .int(Int64(count(.pass))), "failed": .int(Int64(count(.fail))), "declared": .int(Int64(count(.declared))), "warned": .int(Int64(count(.warn))), "strict": .bool(strict),
            "skipped": .int(Int64(count(.skip))),
        ])
        return summary.description
    }

    private static func json(_ mismatch: Mismatch) -> JSON {
        .object([
            "pointer": .string(mismatch.pointer), "expected": .string(mismatch.expected), "actual": .string(mismatch.actual),
            "reason": .string(mismatch.reason), "severity": .string(mismatch.severity.rawValue),
        ])
    }
}
