import Foundation

/// Compares an actual JSON document with an expected one that may hold placeholders. Object key
/// sets must match exactly (masks and `<ABSENT>` aside), arrays are ordered and length-exact,
/// `null` is not absent, and integers are not reals. Bindings (`<$id>`) live across documents of
/// one case, so a stream's chunks must all carry the same id.
public struct Matcher: Sendable {
    public private(set) var bindings: [String: JSON] = [:]
    public private(set) var mismatches: [Mismatch] = []
    /// Pointers left out of the comparison: segments, `*` for one, `**` for any depth.
    public var masks: [String]
    /// How a key the expectation does not list counts: a failure for exact profiles, a warning
    /// where additive fields are tolerated (the SDKs ignore unknown keys).
    public var extraKeys: Mismatch.Severity

    public init(masks: [String] = [], extraKeys: Mismatch.Severity = .fail) {
        self.masks = masks
        self.extraKeys = extraKeys
    }

    /// Compares and returns the mismatches this comparison added.
    @discardableResult
    public mutating func match(_ expected: JSON, _ actual: JSON, at pointer: String = "") -> [Mismatch] {
        let before = mismatches.count
        compare(expected, actual, pointer)
        return Array(mismatches[before...])
    }

    public mutating func reset() { mismatches = [] }

    private mutating func compare(_ expected: JSON, _ actual: JSON?, _ pointer: String) {
        if isMasked(pointer) { return }
        if case .string(let text) = expected, let placeholder = Placeholder.parse(text) {
            check(placeholder, text, actual, pointer)
            return
        }
        guard let actual else {
            fail(pointer, expected, nil, "missing")
            return
        }
        switch (expected, actual) {
        case (.object(let want), .object(let got)):
            for (key, value) in want.sorted(by: { $0.key < $1.key }) {
                compare(value, got[key], pointer + "/" + Self.escape(key))
            }
            for key in got.keys.sorted() where want[key] == nil && !isMasked(pointer + "/" + Self.escape(key)) {
                fail(pointer + "/" + Self.escape(key), nil, got[key], "unexpected key", severity: extraKeys)
            }
        case (.array(let want), .array(let got)):
            if want.count != got.count {
                fail(pointer, expected, actual, "expected \(want.count) elements, got \(got.count)")
                return
            }
            for (index, value) in want.enumerated() { compare(value, got[index], pointer + "/\(index)") }
        case (.string(let text), .string(let got)):
            if Placeholder.literal(text) != got { fail(pointer, expected, actual, "different string") }
        default:
            if expected != actual {
                fail(pointer, expected, actual, expected.typeName == actual.typeName ? "different value" : "expected \(expected.typeName), got \(actual.typeName)")
            }
        }
    }

    private mutating func check(_ placeholder: Placeholder, _ text: String, _ actual: JSON?, _ pointer: String) {
        switch placeholder {
        case .absent:
            if actual != nil { fail(pointer, .string(text), actual, "must be absent") }
            return
        case .nullOrAbsent:
            if let actual, actual != .null { fail(pointer, .string(text), actual, "must be null or absent") }
            return
        case .anyOrAbsent:
            return
        default:
            break
        }
        guard let actual else {
            fail(pointer, .string(text), nil, "missing")
            return
        }
        switch placeholder {
        case .any, .absent, .nullOrAbsent, .anyOrAbsent: return
        case .string: expect(actual.string != nil, text, actual, pointer, "expected a string")
        case .int: expect(actual.int != nil, text, actual, pointer, "expected an integer")
        case .number:
            expect(actual.typeName == "integer" || actual.typeName == "number", text, actual, pointer, "expected a number")
        case .bool: expect(actual.typeName == "boolean", text, actual, pointer, "expected a boolean")
        case .object: expect(actual.object != nil, text, actual, pointer, "expected an object")
        case .array: expect(actual.array != nil, text, actual, pointer, "expected an array")
        case .regex(let pattern):
            guard let string = actual.string else { return fail(pointer, .string(text), actual, "expected a string") }
            guard let regex = try? Regex(pattern) else { return fail(pointer, .string(text), actual, "the golden's regex does not compile") }
            expect(string.contains(regex), text, actual, pointer, "does not match /\(pattern)/")
        case .json(let body):
            guard let string = actual.string else { return fail(pointer, .string(text), actual, "expected a string holding JSON") }
            guard let want = try? StrictJSON.parse(body) else { return fail(pointer, .string(text), actual, "the golden's JSON does not parse") }
            guard let got = try? StrictJSON.parse(string) else { return fail(pointer, .string(text), actual, "the string is not valid JSON") }
            compare(want, got, pointer)
        case .bind(let name, let type):
            if let bound = bindings[name] {
                if bound != actual { fail(pointer, bound, actual, "differs from <$\(name)> seen earlier") }
            } else if let type {
                let before = mismatches.count
                check(type, text, actual, pointer)
                if mismatches.count == before { bindings[name] = actual }
            } else {
                bindings[name] = actual
            }
        }
    }

    private mutating func expect(_ condition: Bool, _ text: String, _ actual: JSON, _ pointer: String, _ reason: String) {
        if !condition { fail(pointer, .string(text), actual, reason) }
    }

    private mutating func fail(_ pointer: String, _ expected: JSON?, _ actual: JSON?, _ reason: String, severity: Mismatch.Severity = .fail) {
        mismatches.append(
            Mismatch(
                pointer: pointer, expected: expected.map(Self.show) ?? "(absent)", actual: actual.map(Self.show) ?? "(absent)", reason: reason,
                severity: severity))
    }

    static func show(_ value: JSON) -> String {
        let text = value.description
        return text.count > 160 ? String(text.prefix(157)) + "…" : text
    }

    /// RFC 6901 escaping of one segment.
    static func escape(_ key: String) -> String {
        key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    private func isMasked(_ pointer: String) -> Bool {
        masks.contains { Self.pointer(pointer, matches: $0) }
    }

    /// Glob match of pointer segments: `*` is one segment, `**` any number (also none).
    public static func pointer(_ pointer: String, matches pattern: String) -> Bool {
        func segments(_ text: String) -> [Substring] { text.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { $0 } }
        func match(_ path: ArraySlice<Substring>, _ globs: ArraySlice<Substring>) -> Bool {
            guard let glob = globs.first else { return path.isEmpty }
            if glob == "**" { return (0...path.count).contains { match(path.dropFirst($0), globs.dropFirst()) } }
            guard let head = path.first, glob == "*" || glob == head else { return false }
            return match(path.dropFirst(), globs.dropFirst())
        }
        return match(ArraySlice(segments(pointer)), ArraySlice(segments(pattern)))
    }
}
