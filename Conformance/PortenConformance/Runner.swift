import Foundation

/// Replays golden cases against a target and judges each answer in layers: status, headers, and
/// either the JSON body, or a stream's framing, chunk invariants, event list (exact profiles only)
/// and reassembled message.
public struct Runner: Sendable {
    public var target: Target
    public var profile: Profile
    public var client: CurlClient

    public init(target: Target, profile: Profile, client: CurlClient = CurlClient()) {
        self.target = target
        self.profile = profile
        self.client = client
    }

    /// Why `golden` cannot run on this target and profile, or nil.
    public func skipReason(_ golden: Golden) -> String? {
        if !golden.profiles.isEmpty, !golden.profiles.contains(profile.name) {
            return "only for profile \(golden.profiles.joined(separator: ", "))"
        }
        if let role = golden.modelRoles.sorted().first(where: { target.models[$0] == nil }) {
            return "no model mapped for role '\(role)' (--model \(role)=ID)"
        }
        if let fixture = golden.fixtures.first(where: { !target.fixtures.contains($0) }) {
            return "fixture '\(fixture)' is not arranged on this target"
        }
        return nil
    }

    public func run(_ golden: Golden) -> CaseResult {
        let started = ContinuousClock.now
        var result = CaseResult(id: golden.id, file: golden.file, layers: [], skipReason: skipReason(golden), seconds: 0)
        guard result.skipReason == nil else { return result }
        let expect = Golden.substitute(golden.expect, models: target.models)
        let exchange: HTTPExchange
        do {
            exchange = try client.send(try request(for: golden))
        } catch {
            result.layers = [layer("transport", [Mismatch(pointer: "", expected: "a response", actual: "\(error)", reason: "no response")], golden)]
            return result
        }
        var matcher = Matcher(masks: golden.masks + profile.masks)
        result.layers = judge(exchange, expect: expect, golden: golden, matcher: &matcher)
        result.seconds = (ContinuousClock.now - started) / .seconds(1)
        return result
    }

    /// The HTTP request a golden sends to this target.
    public func request(for golden: Golden) throws -> HTTPExchange.Request {
        let request = Golden.substitute(golden.request, models: target.models)
        var headers: [(name: String, value: String)] = (request["headers"]?.object ?? [:]).sorted { $0.key < $1.key }.compactMap { name, value in
            value.string.map { (name, $0) }
        }
        switch request["auth"]?.string ?? "default" {
        case "none": break
        case "default": headers.append(("Authorization", "Bearer \(target.apiKey)"))
        case let auth where auth.hasPrefix("fixture:"):
            headers.append(("Authorization", "Bearer \(target.fixtureKeys[String(auth.dropFirst(8))] ?? "")"))
        case let auth where auth.hasPrefix("bearer:"):
            headers.append(("Authorization", "Bearer \(auth.dropFirst(7))"))
        case let auth:
            throw Golden.FormatError(description: "unknown auth '\(auth)'")
        }
        var body: [UInt8]?
        if let text = request["body_text"]?.string {
            body = Array(text.utf8)
        } else if let json = request["body"] {
            body = Array(json.description.utf8)
        }
        return HTTPExchange.Request(
            method: request["method"]?.string ?? "GET", url: target.root + (request["path"]?.string ?? "/"), headers: headers, body: body)
    }

    private func judge(_ exchange: HTTPExchange, expect: JSON, golden: Golden, matcher: inout Matcher) -> [CaseResult.Layer] {
        var layers: [CaseResult.Layer] = []
        let status = expect["status"]?.int ?? 200
        layers.append(
            layer(
                "status",
                Int64(exchange.status) == status ? [] : [Mismatch(pointer: "", expected: "\(status)", actual: "\(exchange.status)", reason: "expected status \(status), got \(exchange.status)")],
                golden))
        if let wanted = expect["headers"]?.object {
            var actual: [String: JSON] = [:]
            for name in wanted.keys { if let value = exchange.header(name) { actual[name.lowercased()] = .string(value) } }
            let lowered = Dictionary(uniqueKeysWithValues: wanted.map { ($0.key.lowercased(), $0.value) })
            layers.append(layer("headers", matcher.match(.object(lowered), .object(actual)), golden))
        }
        if let json = expect["json"] {
            do {
                let actual = try StrictJSON.parse(exchange.body)
                layers.append(layer("body", matcher.match(profile.relax(json), actual), golden))
            } catch {
                layers.append(layer("body", [Mismatch(pointer: "", expected: "strict JSON", actual: "\(error)", reason: "the body does not parse")], golden))
            }
        }
        if let events = expect["sse"]?.array {
            layers += judgeStream(exchange.body, events: events, reassembled: expect["reassembled"], golden: golden, matcher: &matcher)
        }
        return layers
    }

    private func judgeStream(_ body: [UInt8], events: [JSON], reassembled: JSON?, golden: Golden, matcher: inout Matcher) -> [CaseResult.Layer] {
        let framing = SSEFraming.check(body)
        var layers = [layer("framing", framing.problems.map { Mismatch(pointer: "", expected: "SSE framing", actual: "-", reason: $0) }, golden)]
        var parsed: [JSON] = []
        var parseProblems: [Mismatch] = []
        for (index, payload) in framing.payloads.enumerated() {
            if payload == "[DONE]" {
                parsed.append(.string("[DONE]"))
                continue
            }
            do {
                parsed.append(try StrictJSON.parse(payload))
            } catch {
                parseProblems.append(Mismatch(pointer: "/\(index)", expected: "a JSON object", actual: String(payload.prefix(80)), reason: "\(error)"))
            }
        }
        let chunks = parsed.filter { $0.object != nil && $0["error"] == nil }
        let endedByError = parsed.contains { $0["error"] != nil }
        layers.append(layer("invariants", parseProblems + Reassembler.invariants(of: chunks, complete: !endedByError), golden))
        if profile.exactChunks {
            layers.append(layer("events", matcher.match(.array(events.map { $0["data"] ?? $0 }), .array(parsed)), golden))
        } else if let error = events.compactMap({ $0["data"]?["error"] }).first {
            // Without exact chunks, an expected error event must still arrive (as the last data event).
            let actual = parsed.last { $0["error"] != nil }?["error"]
            layers.append(layer("events", actual.map { matcher.match(profile.relax(error), $0, at: "/error") } ?? [
                Mismatch(pointer: "/error", expected: "an error event", actual: "(none)", reason: "missing error event")
            ], golden))
        }
        if let reassembled {
            let actual = Reassembler.message(from: chunks)
            let keys = reassembled.object?.keys.sorted() ?? []
            let subset = JSON.object(Dictionary(uniqueKeysWithValues: keys.compactMap { key in actual[key].map { (key, $0) } }))
            layers.append(layer("reassembled", matcher.match(profile.relax(reassembled), subset), golden))
        }
        return layers
    }

    /// Splits mismatches into failures and declared divergences of the profile.
    private func layer(_ name: String, _ mismatches: [Mismatch], _ golden: Golden) -> CaseResult.Layer {
        var result = CaseResult.Layer(name: name, failures: [], declared: [])
        for mismatch in mismatches {
            if let divergence = profile.declared(mismatch, layer: name, inCase: golden.id) {
                result.declared.append((mismatch, divergence.note))
            } else {
                result.failures.append(mismatch)
            }
        }
        return result
    }
}
