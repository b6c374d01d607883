/// The part of JSON Schema that tool `parameters` and `response_format.json_schema` use, for
/// checking a model's output: `type` (one or a list), `enum`, `const`, `properties`, `required`,
/// `additionalProperties`, `items`, `prefixItems`, `minItems`/`maxItems`,
/// `minLength`/`maxLength`, `minimum`/`maximum` (and exclusive), `anyOf`/`oneOf`/`allOf`, and
/// local `$ref` (`#/$defs/…`, `#/definitions/…`). Unknown keywords are ignored, so a schema this
/// does not understand never fails an answer.
public struct JSONSchema: Sendable {
    public var root: JSON

    public init(root: JSON) { self.root = root }

    public struct Problem: Sendable, Equatable {
        /// Pointer into the validated value.
        public var pointer: String
        public var reason: String
        public var actual: String
    }

    public func validate(_ value: JSON) -> [Problem] {
        var problems: [Problem] = []
        check(value, against: root, at: "", into: &problems, depth: 0)
        return problems
    }

    private func check(_ value: JSON, against schema: JSON, at pointer: String, into problems: inout [Problem], depth: Int) {
        guard depth < 64, case .object(let rules) = schema else { return }
        func add(_ reason: String) { problems.append(Problem(pointer: pointer, reason: reason, actual: Matcher.show(value))) }
        if let reference = rules["$ref"]?.string {
            if let target = resolve(reference) { check(value, against: target, at: pointer, into: &problems, depth: depth + 1) }
            return
        }
        if let type = rules["type"] {
            let types = type.array?.compactMap(\.string) ?? type.string.map { [$0] } ?? []
            if !types.isEmpty, !types.contains(where: { Self.has(value, type: $0) }) {
                return add("expected \(types.joined(separator: " or ")), got \(value.typeName)")
            }
        }
        if let options = rules["enum"]?.array, !options.contains(where: { Self.equal($0, value) }) { add("not one of the enum values \(Matcher.show(.array(options)))") }
        if let constant = rules["const"], !Self.equal(constant, value) { add("not the const \(Matcher.show(constant))") }
        for (keyword, mode) in [("anyOf", 0), ("oneOf", 1), ("allOf", 2)] {
            guard let branches = rules[keyword]?.array else { continue }
            let outcomes = branches.map { branch in
                var inner: [Problem] = []
                check(value, against: branch, at: pointer, into: &inner, depth: depth + 1)
                return inner
            }
            let passing = outcomes.filter(\.isEmpty).count
            switch mode {
            case 0 where passing == 0: add("matches none of anyOf")
            case 1 where passing != 1: add("matches \(passing) of oneOf, not exactly one")
            case 2: problems += outcomes.flatMap { $0 }
            default: break
            }
        }
        switch value {
        case .object(let members):
            let properties = rules["properties"]?.object ?? [:]
            for name in rules["required"]?.array?.compactMap(\.string) ?? [] where members[name] == nil {
                add("the required property \(JSON.string(name)) is missing")
            }
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                let at = pointer + "/" + Matcher.escape(name)
                if let property = properties[name] {
                    check(member, against: property, at: at, into: &problems, depth: depth + 1)
                } else if rules["additionalProperties"] == .bool(false) {
                    problems.append(Problem(pointer: at, reason: "a property the schema does not allow (additionalProperties: false)", actual: Matcher.show(member)))
                } else if let extra = rules["additionalProperties"], extra.object != nil {
                    check(member, against: extra, at: at, into: &problems, depth: depth + 1)
                }
            }
        case .array(let elements):
            if let minimum = rules["minItems"]?.int, elements.count < minimum { add("fewer than minItems \(minimum)") }
            if let maximum = rules["maxItems"]?.int, elements.count > maximum { add("more than maxItems \(maximum)") }
            let prefix = rules["prefixItems"]?.array ?? []
            for (index, element) in elements.enumerated() {
                let schema = index < prefix.count ? prefix[index] : rules["items"]
                if let schema { check(element, against: schema, at: pointer + "/\(index)", into: &problems, depth: depth + 1) }
            }
        case .string(let text):
            if let minimum = rules["minLength"]?.int, text.count < minimum { add("shorter than minLength \(minimum)") }
            if let maximum = rules["maxLength"]?.int, text.count > maximum { add("longer than maxLength \(maximum)") }
        case .int, .real:
            let number = value.number!
            if let minimum = rules["minimum"]?.number, number < minimum { add("below minimum \(minimum)") }
            if let maximum = rules["maximum"]?.number, number > maximum { add("above maximum \(maximum)") }
            if let minimum = rules["exclusiveMinimum"]?.number, number <= minimum { add("not above exclusiveMinimum \(minimum)") }
            if let maximum = rules["exclusiveMaximum"]?.number, number >= maximum { add("not below exclusiveMaximum \(maximum)") }
        default: break
        }
    }

    /// `#/…` pointers into the root schema.
    private func resolve(_ reference: String) -> JSON? {
        guard reference.hasPrefix("#") else { return nil }
        var node: JSON? = root
        for segment in reference.dropFirst().split(separator: "/") {
            let key = segment.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            node = node?[key] ?? Int(key).flatMap { node?[$0] }
        }
        return node
    }

    static func has(_ value: JSON, type: String) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("null", .null), ("object", .object), ("array", .array), ("integer", .int): true
        case ("integer", .real(let real)): real == real.rounded(.towardZero) && abs(real) < 1e15
        case ("number", .int), ("number", .real): true
        default: false
        }
    }

    /// JSON equality with `1` equal to `1.0`, as JSON Schema compares numbers.
    static func equal(_ a: JSON, _ b: JSON) -> Bool {
        if let x = a.number, let y = b.number { return x == y }
        switch (a, b) {
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)): return x.keys == y.keys && x.allSatisfy { key, value in equal(value, y[key]!) }
        default: return a == b
        }
    }
}
