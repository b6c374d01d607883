/// A typed placeholder inside an expected JSON string: `<STR>`, `<INT>`, `<REGEX:…>`,
/// `<$name:TYPE>`… (docs/golden-format.md). A literal string that looks like one is written `<<…>>`.
public indirect enum Placeholder: Sendable, Equatable {
    case any, string, int, number, bool, object, array, absent, nullOrAbsent, anyOrAbsent
    case regex(String)
    case json(String)
    /// `<$name:TYPE>` binds on first sight; `<$name>` must equal what was bound.
    case bind(String, Placeholder?)

    /// The placeholder a string stands for, or nil for a literal string.
    public static func parse(_ text: String) -> Placeholder? {
        guard text.hasPrefix("<"), text.hasSuffix(">"), !text.hasPrefix("<<"), text.count >= 3 else { return nil }
        return parseBody(String(text.dropFirst().dropLast()))
    }

    /// `<<x>>` is the literal `<x>`; other strings are themselves.
    public static func literal(_ text: String) -> String {
        text.hasPrefix("<<") && text.hasSuffix(">>") ? String(text.dropFirst().dropLast()) : text
    }

    private static func parseBody(_ body: String) -> Placeholder? {
        switch body {
        case "ANY": return .any
        case "STR": return .string
        case "INT": return .int
        case "NUM": return .number
        case "BOOL": return .bool
        case "OBJ": return .object
        case "ARR": return .array
        case "ABSENT": return .absent
        case "NULL|ABSENT": return .nullOrAbsent
        case "ANY|ABSENT": return .anyOrAbsent
        default: break
        }
        if body.hasPrefix("REGEX:") { return .regex(String(body.dropFirst(6))) }
        if body.hasPrefix("JSON:") { return .json(String(body.dropFirst(5))) }
        if body.hasPrefix("$") {
            let rest = body.dropFirst()
            guard let colon = rest.firstIndex(of: ":") else { return rest.isEmpty ? nil : .bind(String(rest), nil) }
            guard let type = parseBody(String(rest[rest.index(after: colon)...])) else { return nil }
            return .bind(String(rest[..<colon]), type)
        }
        return nil
    }
}
