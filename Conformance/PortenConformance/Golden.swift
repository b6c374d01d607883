import Foundation

/// One golden case, read from `Golden/<area>/<name>.json` (docs/golden-format.md).
public struct Golden: Sendable {
    public var id: String
    public var description: String
    /// Profiles the case applies to; empty: every profile.
    public var profiles: [String]
    public var fixtures: [String]
    /// Pointers left out of every comparison of the case.
    public var masks: [String]
    public var request: JSON
    public var expect: JSON
    public var file: String
    /// Where the expectation comes from: OpenAI's API reference, its OpenAPI spec, openai-python's
    /// types or recorded streams, an observed transcript, or the Porten docs for Porten-only cases.
    public var source: String
    /// Outside the reference: pointer into `expect` → the value that replaces it, for what OpenAI
    /// leaves open or answers differently from the reference without breaking an SDK.
    public var loose: [String: JSON]
    /// Other answers that are right under some profiles (`n > 1`: n choices or a 400).
    public var alternatives: [Alternative]

    public struct Alternative: Sendable {
        public var profiles: [String]
        public var source: String
        public var expect: JSON
    }

    public struct FormatError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(file: String, json: JSON) throws(FormatError) {
        guard let id = json["id"]?.string else { throw FormatError(description: "\(file): no string 'id'") }
        guard let request = json["request"], request.object != nil else { throw FormatError(description: "\(file): no 'request' object") }
        guard let expect = json["expect"], expect["status"]?.int != nil else { throw FormatError(description: "\(file): no 'expect.status'") }
        self.id = id
        self.file = file
        self.description = json["description"]?.string ?? ""
        self.profiles = json["profiles"]?.array?.compactMap(\.string) ?? []
        self.fixtures = json["fixtures"]?.array?.compactMap(\.string) ?? []
        self.masks = json["mask"]?.array?.compactMap(\.string) ?? []
        self.request = request
        self.expect = expect
        guard let source = json["source"]?.string, !source.isEmpty else {
            throw FormatError(description: "\(file): no 'source' (where the expectation comes from)")
        }
        self.source = source
        self.loose = json["loose"]?.object ?? [:]
        for pointer in loose.keys where expect.value(at: pointer) == nil {
            throw FormatError(description: "\(file): loose pointer '\(pointer)' is not in 'expect'")
        }
        self.alternatives = try (json["alternatives"]?.array ?? []).map { alternative throws(FormatError) in
            guard let profiles = alternative["profiles"]?.array?.compactMap(\.string), !profiles.isEmpty,
                let source = alternative["source"]?.string, let expect = alternative["expect"], expect["status"]?.int != nil
            else { throw FormatError(description: "\(file): an alternative needs 'profiles', 'source' and 'expect.status'") }
            return Alternative(profiles: profiles, source: source, expect: expect)
        }
    }

    /// The expectations that hold for `profile`, first the golden's own (with its `loose`
    /// patches outside the reference), then the alternatives for that profile.
    public func expectations(for profile: Profile) -> [(expect: JSON, source: String)] {
        var main = expect
        if !profile.exact {
            for (pointer, value) in loose { main = main.replacing(at: pointer, with: value) }
        }
        return [(main, source)] + alternatives.filter { $0.profiles.contains(profile.name) }.map { ($0.expect, $0.source) }
    }

    /// Every `*.json` under `directory`, sorted by id; a file that does not parse is an error.
    public static func load(from directory: String) throws -> [Golden] {
        let root = URL(fileURLWithPath: directory)
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw FormatError(description: "cannot read \(directory)")
        }
        var goldens: [Golden] = []
        for case let url as URL in walker where url.pathExtension == "json" {
            let bytes = Array(try Data(contentsOf: url))
            let json: JSON
            do { json = try StrictJSON.parse(bytes) } catch { throw FormatError(description: "\(url.path): \(error)") }
            goldens.append(try Golden(file: url.path, json: json))
        }
        let ids = goldens.map(\.id)
        if let duplicate = ids.first(where: { id in ids.filter { $0 == id }.count > 1 }) {
            throw FormatError(description: "two goldens have the id '\(duplicate)'")
        }
        return goldens.sorted { $0.id < $1.id }
    }

    /// The model roles (`<MODEL:role>`) the case uses.
    public var modelRoles: Set<String> {
        var roles = Set<String>()
        func visit(_ value: JSON) {
            switch value {
            case .string(let text):
                var rest = text[...]
                while let start = rest.range(of: "<MODEL:"), let end = rest[start.upperBound...].firstIndex(of: ">") {
                    roles.insert(String(rest[start.upperBound..<end]))
                    rest = rest[rest.index(after: end)...]
                }
            case .array(let elements): elements.forEach(visit)
            case .object(let members): members.values.forEach(visit)
            default: break
            }
        }
        visit(request)
        visit(expect)
        return roles
    }

    /// `value` with every string `<REPEAT:count:text>` replaced by `text` repeated `count` times
    /// (at most 10 million characters), for requests too large to write out (a context overflow).
    public static func expandRepeats(_ value: JSON) -> JSON {
        switch value {
        case .string(let text) where text.hasPrefix("<REPEAT:") && text.hasSuffix(">"):
            let body = text.dropFirst(8).dropLast()
            guard let colon = body.firstIndex(of: ":"), let count = Int(body[..<colon]) else { return value }
            let unit = body[body.index(after: colon)...]
            guard count >= 0, count * max(unit.count, 1) <= 10_000_000 else { return value }
            return .string(String(repeating: String(unit), count: count))
        case .array(let elements): return .array(elements.map(expandRepeats))
        case .object(let members): return .object(members.mapValues(expandRepeats))
        default: return value
        }
    }

    /// `value` with every `<MODEL:role>` replaced by the target's id for the role.
    public static func substitute(_ value: JSON, models: [String: String]) -> JSON {
        switch value {
        case .string(var text):
            for (role, id) in models { text = text.replacingOccurrences(of: "<MODEL:\(role)>", with: id) }
            return .string(text)
        case .array(let elements): return .array(elements.map { substitute($0, models: models) })
        case .object(let members): return .object(members.mapValues { substitute($0, models: models) })
        default: return value
        }
    }
}
