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

    /// Sorted keys, compact; reals with their shortest round-tripping digits (`29.406`, not
    /// jansson's `29.405999999999999`), so a number is shown as it was written.
    public static func canonical(_ value: JSON) -> String {
        var out = ""
        write(value, into: &out, indent: nil, depth: 0)
        return out
    }

    /// Sorted keys, indented by two spaces, for files people read (goldens).
    public static func pretty(_ value: JSON) -> String {
        var out = ""
        write(value, into: &out, indent: "  ", depth: 0)
        return out
    }

    private static func write(_ value: JSON, into out: inout String, indent: String?, depth: Int) {
        func newline(_ level: Int) {
            guard let indent else { return }
            out += "\n" + String(repeating: indent, count: level)
        }
        switch value {
        case .null: out += "null"
        case .bool(let bool): out += bool ? "true" : "false"
        case .int(let int): out += String(int)
        case .real(let real): out += number(real)
        case .string(let string): escape(string, into: &out)
        case .array(let elements):
            guard !elements.isEmpty else { return out += "[]" }
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                newline(depth + 1)
                write(element, into: &out, indent: indent, depth: depth + 1)
            }
            newline(depth)
            out += "]"
        case .object(let members):
            guard !members.isEmpty else { return out += "{}" }
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                newline(depth + 1)
                escape(key, into: &out)
                out += indent == nil ? ":" : ": "
                write(members[key]!, into: &out, indent: indent, depth: depth + 1)
            }
            newline(depth)
            out += "}"
        }
    }

    /// The shortest digits that read back as the same double, always with a `.` or an exponent
    /// so a real stays a real.
    static func number(_ real: Double) -> String {
        guard real.isFinite else { return "null" }
        let text = "\(real)"
        return text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? text : text + ".0"
    }

    private static func escape(_ string: String, into out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
