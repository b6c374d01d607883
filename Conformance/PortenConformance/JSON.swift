import Foundation

/// A JSON value as the suite sees it: integers and reals kept apart (`2` is not `2.0` on a strict
/// wire), objects compared without regard to key order.
public indirect enum JSON: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case real(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { members[key] } else { nil }
    }

    public subscript(index: Int) -> JSON? {
        if case .array(let elements) = self, elements.indices.contains(index) { elements[index] } else { nil }
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var array: [JSON]? { if case .array(let value) = self { value } else { nil } }
    public var object: [String: JSON]? { if case .object(let value) = self { value } else { nil } }
    public var int: Int64? { if case .int(let value) = self { value } else { nil } }

    /// `null`, `boolean`, `integer`, `number`, `string`, `array` or `object`.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .real: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Canonical text (sorted keys, compact), as jansson writes it.
    public var description: String { StrictJSON.canonical(self) }

    /// The value at an RFC 6901 pointer, or nil.
    public func value(at pointer: String) -> JSON? {
        var node: JSON? = self
        for segment in Self.segments(pointer) {
            node = node?[segment] ?? Int(segment).flatMap { node?[$0] }
        }
        return node
    }

    /// A copy with the value at `pointer` (which must exist) replaced.
    public func replacing(at pointer: String, with value: JSON) -> JSON {
        func replace(_ node: JSON, _ path: ArraySlice<String>) -> JSON {
            guard let head = path.first else { return value }
            switch node {
            case .object(var members) where members[head] != nil:
                members[head] = replace(members[head]!, path.dropFirst())
                return .object(members)
            case .array(var elements):
                guard let index = Int(head), elements.indices.contains(index) else { return node }
                elements[index] = replace(elements[index], path.dropFirst())
                return .array(elements)
            default: return node
            }
        }
        return replace(self, ArraySlice(Self.segments(pointer)))
    }

    static func segments(_ pointer: String) -> [String] {
        pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }
}
