import CJansson

/// JSON through jansson, strictly: duplicate keys, invalid UTF-8 and trailing data are errors;
/// `\u0000` inside a string is valid JSON and kept. Canonical output has sorted keys, no spaces.
public enum StrictJSON {
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let message: String
        /// Byte offset where jansson stopped.
        public let position: Int
        public var description: String { "\(message) (at byte \(position))" }
    }

    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSON {
        var error = json_error_t()
        let root = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    json_loadb($0, buffer.count, Int(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL), &error)
                }
            } ?? nil
        }
        guard let root else {
            let message = bytes.isEmpty ? "empty body" : withUnsafePointer(to: &error) { String(cString: cj_error_text($0)) }
            throw ParseError(message: message, position: Int(withUnsafePointer(to: &error) { cj_error_position($0) }))
        }
        defer { cj_release(root) }
        return convert(root)
    }

    public static func parse(_ text: String) throws(ParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    private static func convert(_ value: UnsafeMutablePointer<json_t>) -> JSON {
        switch json_type(rawValue: UInt32(cj_type(value))) {
        case JSON_OBJECT:
            var members: [String: JSON] = [:]
            var iterator = json_object_iter(value)
            while let current = iterator {
                members[String(cString: json_object_iter_key(current))] = convert(json_object_iter_value(current))
                iterator = json_object_iter_next(value, current)
            }
            return .object(members)
        case JSON_ARRAY:
            return .array((0..<json_array_size(value)).map { convert(json_array_get(value, $0)) })
        case JSON_STRING:
            let length = json_string_length(value)
            let bytes = UnsafeRawBufferPointer(start: json_string_value(value), count: length)
            return .string(String(decoding: bytes, as: UTF8.self))
        case JSON_INTEGER: return .int(Int64(json_integer_value(value)))
        case JSON_REAL: return .real(json_real_value(value))
        case JSON_TRUE: return .bool(true)
        case JSON_FALSE: return .bool(false)
        default: return .null
        }
    }

    /// Sorted keys, compact, reals with their shortest round-tripping digits.
    public static func canonical(_ value: JSON) -> String { dump(value, flags: Int(JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY)) }

    /// Sorted keys, indented by two spaces, for files people read (goldens).
    public static func pretty(_ value: JSON) -> String { dump(value, flags: Int(JSON_SORT_KEYS | JSON_ENCODE_ANY) | 2) }

    private static func dump(_ value: JSON, flags: Int) -> String {
        guard let root = build(value) else { return "null" }
        defer { cj_release(root) }
        guard let text = json_dumps(root, flags) else { return "null" }
        defer { free(text) }
        return String(cString: text)
    }

    private static func build(_ value: JSON) -> UnsafeMutablePointer<json_t>? {
        switch value {
        case .null: return json_null()
        case .bool(let bool): return bool ? json_true() : json_false()
        case .int(let int): return json_integer(json_int_t(int))
        case .real(let real): return json_real(real)
        case .string(let string):
            let bytes = Array(string.utf8)
            return bytes.withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buffer.count, 1)) { json_stringn($0, buffer.count) }
            }
        case .array(let elements):
            let array = json_array()
            for element in elements { json_array_append_new(array, build(element)) }
            return array
        case .object(let members):
            let object = json_object()
            for (key, member) in members { json_object_set_new(object, key, build(member)) }
            return object
        }
    }
}
