/// Writes a golden's expectation from what a target answered, with the volatile fields (ids,
/// timestamps, fingerprints) turned into placeholders so the golden can be replayed. A recorded
/// golden is a proposal to review, never a pass.
public enum Recorder {
    /// Volatile keys and the placeholders that replace their values.
    static let volatile: [String: String] = [
        "id": "<$id:STR>", "created": "<$created:INT>", "system_fingerprint": "<NULL|ABSENT>",
    ]

    /// The expectation for `golden` from `exchange`. Model ids of `models` become their roles
    /// (`<MODEL:chat>`), and tool-call ids become bindings (`<$call0:STR>`), so the golden holds
    /// for other targets and still checks that a stream and its calls agree.
    public static func expectation(for golden: Golden, from exchange: HTTPExchange, models: [String: String]) -> JSON {
        var callIDs: [String] = []
        return generalize(rawExpectation(for: golden, from: exchange), roles: Dictionary(models.map { ($1, $0) }) { first, _ in first }, callIDs: &callIDs)
    }

    static func generalize(_ value: JSON, roles: [String: String], callIDs: inout [String], key: String? = nil, inToolCall: Bool = false) -> JSON {
        switch value {
        case .string(let text):
            if key == "model", let role = roles[text] { return .string("<MODEL:\(role)>") }
            if key == "id", inToolCall {
                if !callIDs.contains(text) { callIDs.append(text) }
                return .string("<$call\(callIDs.firstIndex(of: text)!):STR>")
            }
            return value
        case .array(let elements):
            return .array(elements.map { generalize($0, roles: roles, callIDs: &callIDs, key: nil, inToolCall: key == "tool_calls") })
        case .object(let members):
            var result: [String: JSON] = [:]
            for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                result[name] = generalize(member, roles: roles, callIDs: &callIDs, key: name, inToolCall: inToolCall)
            }
            return .object(result)
        default:
            return value
        }
    }

    static func rawExpectation(for golden: Golden, from exchange: HTTPExchange) -> JSON {
        var expect: [String: JSON] = ["status": .int(Int64(exchange.status))]
        if let headers = golden.expect["headers"] { expect["headers"] = headers }
        let isStream = exchange.header("content-type")?.hasPrefix("text/event-stream") == true
        if isStream {
            let framing = SSEFraming.check(exchange.body)
            let events = framing.payloads.map { payload -> JSON in
                payload == "[DONE]" ? .object(["data": .string("[DONE]")]) : .object(["data": scrub((try? StrictJSON.parse(payload)) ?? .string(payload), top: true)])
            }
            expect["sse"] = .array(events)
            let chunks = framing.payloads.compactMap { try? StrictJSON.parse($0) }.filter { $0.object != nil && $0["error"] == nil }
            var reassembled = Reassembler.message(from: chunks).object ?? [:]
            reassembled["id"] = nil
            reassembled["model"] = nil
            reassembled["created"] = nil
            expect["reassembled"] = .object(reassembled)
        } else if let json = try? StrictJSON.parse(exchange.body) {
            expect["json"] = scrub(json, top: true)
        }
        return .object(expect)
    }

    /// Replaces volatile values and error messages (wording is not part of the wire contract).
    static func scrub(_ value: JSON, top: Bool) -> JSON {
        switch value {
        case .object(var members):
            for (key, placeholder) in volatile where members[key] != nil && (top || key != "id") { members[key] = .string(placeholder) }
            if members["message"]?.string != nil, members["type"] != nil { members["message"] = .string("<STR>") }
            return .object(members.mapValues { scrub($0, top: false) })
        case .array(let elements):
            return .array(elements.map { scrub($0, top: false) })
        default:
            return value
        }
    }
}
