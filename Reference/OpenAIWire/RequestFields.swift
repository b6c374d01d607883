/// Reads typed fields out of a JSON object for request validation, producing 400 errors whose
/// `param` is the field's path (`messages[2].content`) and whose message says what was expected.
public struct RequestFields: Sendable {
    public let members: [String: JSONValue]
    /// Path of this object inside the request, empty for the top level.
    public let path: String

    /// - Throws: a 400 if `value` is not an object.
    public init(_ value: JSONValue, path: String = "") throws(APIError) {
        guard case .object(let members) = value else {
            throw .invalidRequest(
                path.isEmpty ? "The request body must be a JSON object, got \(value.typeDescription)."
                    : "Invalid type for '\(path)': expected an object, but got \(value.typeDescription).",
                param: path.isEmpty ? nil : path, code: path.isEmpty ? nil : "invalid_type")
        }
        self.members = members
        self.path = path
    }

    /// The path of member `key`, for `param`.
    public func path(of key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member, treating an explicit `null` as absent (OpenAI accepts `null` for optional fields).
    public func value(_ key: String) -> JSONValue? {
        guard let value = members[key], !value.isNull else { return nil }
        return value
    }

    /// 400 `invalid_type` naming the field, as OpenAI answers a wrongly typed field.
    public func typeError(_ key: String, expected: String, got value: JSONValue) -> APIError {
        .invalidRequest(
            "Invalid type for '\(path(of: key))': expected \(expected), but got \(value.typeDescription).", param: path(of: key), code: "invalid_type")
    }

    public func missing(_ key: String) -> APIError {
        .invalidRequest("Missing required parameter: '\(path(of: key))'.", param: path(of: key), code: "missing_required_parameter")
    }

    public func requiredString(_ key: String) throws(APIError) -> String {
        guard let value = value(key) else { throw missing(key) }
        guard case .string(let string) = value else { throw typeError(key, expected: "a string", got: value) }
        return string
    }

    public func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let string) = value else { throw typeError(key, expected: "a string", got: value) }
        return string
    }

    public func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let bool) = value else { throw typeError(key, expected: "a boolean", got: value) }
        return bool
    }

    /// An integer within `range`; `2.0` is not an integer on this wire.
    public func int(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .int(let int) = value else { throw typeError(key, expected: "an integer", got: value) }
        guard range.contains(int) else { throw outOfRange(key, int, range) }
        return int
    }

    public func double(_ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        guard let double = value.doubleValue else { throw typeError(key, expected: "a number", got: value) }
        guard range.contains(double) else { throw outOfRange(key, double, range) }
        return double
    }

    public func array(_ key: String) throws(APIError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let array) = value else { throw typeError(key, expected: "an array", got: value) }
        return array
    }

    public func object(_ key: String) throws(APIError) -> RequestFields? {
        guard let value = value(key) else { return nil }
        return try RequestFields(value, path: path(of: key))
    }

    /// A string member restricted to `allowed`.
    public func oneOf(_ key: String, _ allowed: [String]) throws(APIError) -> String? {
        guard let string = try string(key) else { return nil }
        guard allowed.contains(string) else {
            throw .invalidRequest(
                "Invalid value for '\(path(of: key))': '\(string)'. Supported values are: \(allowed.map { "'\($0)'" }.joined(separator: ", ")).",
                param: path(of: key), code: "invalid_value")
        }
        return string
    }

    /// 400 with OpenAI's range codes: `integer_above_max_value`, `decimal_below_min_value`…
    private func outOfRange<Value: Numeric & Comparable>(_ key: String, _ value: Value, _ range: ClosedRange<Value>) -> APIError {
        let kind = value is Int ? "integer" : "decimal"
        let side = value > range.upperBound ? "above_max" : "below_min"
        return .invalidRequest(
            "Invalid value for '\(path(of: key))': \(value) is outside the allowed range \(range.lowerBound)…\(range.upperBound).", param: path(of: key),
            code: "\(kind)_\(side)_value")
    }
}
