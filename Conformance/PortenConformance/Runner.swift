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
        let request: HTTPExchange.Request
        let exchange: HTTPExchange
        do {
            request = try self.request(for: golden)
            exchange = try client.send(request)
        } catch {
            result.layers = [layer("transport", [Mismatch(pointer: "", expected: "a response", actual: "\(error)", reason: "no response")], golden)]
            return result
        }
        // A stream is parsed once, for every expectation and the semantics.
        let stream = lazyStream(exchange, golden: golden)
        // The golden's expectation, else the first alternative that holds; when none does, the
        // one that expected the status the target sent explains the failure best.
        var judged: [(layers: [CaseResult.Layer], notes: [String], source: String, status: Bool)] = []
        for (expect, source) in golden.expectations(for: profile) {
            var notes: [String] = []
            let layers = judge(exchange, stream: stream, expect: Golden.substitute(expect, models: target.models), golden: golden, notes: &notes)
            judged.append((layers, notes, source, layers.first { $0.name == "status" }?.failures.isEmpty ?? true))
            if !layers.contains(where: { $0.verdict == .fail }) { break }
        }
        let chosen = judged.first { !$0.layers.contains { $0.verdict == .fail } } ?? judged.first { $0.status } ?? judged[0]
        result.layers = chosen.layers
        result.notes = chosen.notes
        if judged.count > 1, chosen.source != judged[0].source { result.notes.append("judged by the alternative from: \(chosen.source)") }
        if (200..<300).contains(exchange.status) {
            result.layers.append(layer("semantics", semantics(exchange, stream: stream, request: request, golden: golden), golden))
        }
        result.seconds = (ContinuousClock.now - started) / .seconds(1)
        return result
    }

    /// The HTTP request a golden sends to this target.
    public func request(for golden: Golden) throws -> HTTPExchange.Request {
        let request = Golden.expandRepeats(Golden.substitute(golden.request, models: target.models))
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

    /// The answer's SSE events, parsed, when the golden expects a stream or the request asked for one.
    private func lazyStream(_ exchange: HTTPExchange, golden: Golden) -> Stream? {
        let body = golden.request["body"]
        let streamed = body?["stream"] == .bool(true) || golden.expect["sse"] != nil
        return streamed ? Stream(exchange.body, n: body?["n"]?.int ?? 1) : nil
    }

    private func judge(_ exchange: HTTPExchange, stream: Stream?, expect: JSON, golden: Golden, notes: inout [String]) -> [CaseResult.Layer] {
        var matcher = Matcher(masks: golden.masks + profile.masks, extraKeys: profile.extraKeys)
        let status = expect["status"]?.int ?? 200
        guard Int64(exchange.status) == status else {
            // One cause, one line: the body of an unexpected status is shown, not compared.
            let body = String(decoding: exchange.body.prefix(300), as: UTF8.self)
            return [
                layer("status", [Mismatch(pointer: "", expected: "\(status)", actual: "\(exchange.status) \(body)", reason: "expected status \(status), got \(exchange.status)")], golden)
            ]
        }
        var layers = [layer("status", [], golden)]
        if let wanted = expect["headers"]?.object {
            var actual: [String: JSON] = [:]
            for name in wanted.keys { if let value = exchange.header(name) { actual[name.lowercased()] = .string(value) } }
            let lowered = Dictionary(uniqueKeysWithValues: wanted.map { ($0.key.lowercased(), $0.value) })
            layers.append(layer("headers", matcher.match(.object(lowered), .object(actual)), golden))
        }
        if let json = expect["json"] {
            do {
                let actual = normalize(try StrictJSON.parse(exchange.body), notes: &notes)
                layers.append(layer("body", matcher.match(profile.relax(json), actual), golden))
            } catch {
                layers.append(layer("body", [Mismatch(pointer: "", expected: "strict JSON", actual: "\(error)", reason: "the body does not parse")], golden))
            }
        }
        if let events = expect["sse"]?.array, let stream {
            layers += judgeStream(stream, events: events, reassembled: expect["reassembled"], golden: golden, matcher: &matcher, notes: &notes)
        }
        return layers
    }

    /// A stream's payloads, parsed: the chunks, whether an error event ended it, and the
    /// framing and invariant problems.
    struct Stream {
        var framing: SSEFraming.Result
        var parsed: [JSON] = []
        var chunks: [JSON] = []
        var invariants: [Mismatch] = []

        init(_ body: [UInt8], n: Int64) {
            framing = SSEFraming.check(body)
            for (index, payload) in framing.payloads.enumerated() {
                if payload == "[DONE]" {
                    parsed.append(.string("[DONE]"))
                    continue
                }
                do {
                    let event = try StrictJSON.parse(payload)
                    if event.object == nil {
                        invariants.append(
                            Mismatch(pointer: "/\(index)", expected: "a JSON object", actual: String(payload.prefix(80)),
                                     reason: "an event that is not a JSON object: the SDK fails on it (AttributeError)"))
                    }
                    parsed.append(event)
                } catch {
                    invariants.append(Mismatch(pointer: "/\(index)", expected: "a JSON object", actual: String(payload.prefix(80)), reason: "\(error)"))
                }
            }
            chunks = parsed.filter { $0.object != nil && !Self.isError($0) }
            invariants += Reassembler.invariants(of: chunks, n: n, complete: !hasError)
        }

        /// Whether an error event ended the stream.
        var hasError: Bool { parsed.contains(where: Self.isError) }

        /// An error event as the SDK sees one: an `error` key whose value is truthy in Python
        /// (`"error": null` or `{}` on a chunk is no error, and the chunk counts).
        static func isError(_ event: JSON) -> Bool {
            switch event["error"] {
            case nil, .null?, .bool(false)?, .int(0)?: false
            case .string(let text)?: !text.isEmpty
            case .array(let items)?: !items.isEmpty
            case .object(let members)?: !members.isEmpty
            default: true
            }
        }
    }

    private func judgeStream(
        _ stream: Stream, events: [JSON], reassembled: JSON?, golden: Golden, matcher: inout Matcher, notes: inout [String]
    ) -> [CaseResult.Layer] {
        var layers = [layer("framing", stream.framing.problems, golden), layer("invariants", stream.invariants, golden)]
        if profile.exactChunks {
            layers.append(layer("events", matcher.match(.array(events.map { $0["data"] ?? $0 }), .array(stream.parsed)), golden))
        } else if let error = events.compactMap({ $0["data"]?["error"] }).first {
            // Without exact chunks, an expected error event must still arrive (as the last data event).
            let actual = stream.parsed.last(where: Stream.isError)?["error"]
            layers.append(layer("events", actual.map { matcher.match(profile.relax(error), $0, at: "/error") } ?? [
                Mismatch(pointer: "/error", expected: "an error event", actual: "(none)", reason: "missing error event")
            ], golden))
        } else if let index = stream.parsed.firstIndex(where: Stream.isError) {
            layers.append(layer("events", [
                Mismatch(pointer: "/\(index)/error", expected: "no error event", actual: Matcher.show(stream.parsed[index]),
                         reason: "an error event in a stream that should succeed: the SDK raises APIError and the answer is lost")
            ], golden))
        }
        if let reassembled {
            let actual = normalize(Reassembler.message(from: stream.chunks), notes: &notes)
            let keys = reassembled.object?.keys.sorted() ?? []
            let subset = JSON.object(Dictionary(uniqueKeysWithValues: keys.compactMap { key in actual[key].map { (key, $0) } }))
            layers.append(layer("reassembled", matcher.match(profile.relax(reassembled), subset), golden))
        }
        return layers
    }

    /// A message's `reasoning` renamed to `reasoning_content` when the profile accepts both, with
    /// a note saying which field the target used; outside the reference, a refusal in place of
    /// the content.
    private func normalize(_ completion: JSON, notes: inout [String]) -> JSON {
        guard case .object(var members) = completion, let choices = members["choices"]?.array else { return completion }
        members["choices"] = .array(choices.map { choice in
            guard case .object(var choiceMembers) = choice, case .object(var message)? = choiceMembers["message"] else { return choice }
            // A refusal (content null, refusal text) is a right answer from a real model: the
            // refusal stands in for the content the golden's <STR> expects, and is noted.
            if !profile.exact, let refusal = message["refusal"]?.string, message["content"] == .null {
                notes.append("the model refused: \(refusal.prefix(120))")
                message["content"] = .string(refusal)
            }
            for field in profile.reasoningFields where message[field]?.string != nil {
                let note = "reasoning text arrived as '\(field)'"
                if profile.reasoningFields.count > 1, !notes.contains(note) { notes.append(note) }
                if field != "reasoning_content", message["reasoning_content"] == nil {
                    message["reasoning_content"] = message[field]
                    message[field] = nil
                }
                break
            }
            choiceMembers["message"] = .object(message)
            return .object(choiceMembers)
        })
        return .object(members)
    }

    /// The checks of meaning on a 2xx answer to a chat or embeddings request (Semantics).
    private func semantics(_ exchange: HTTPExchange, stream: Stream?, request: HTTPExchange.Request, golden: Golden) -> [Mismatch] {
        let path = golden.request["path"]?.string ?? ""
        if path == "/v1/models", let response = try? StrictJSON.parse(exchange.body) { return Semantics.models(response) }
        guard let body = request.body, let sent = try? StrictJSON.parse(body) else { return [] }
        if path.hasSuffix("/chat/completions") {
            if sent["stream"] == .bool(true), let stream {
                guard !stream.hasError else { return [] }
                var notes: [String] = []
                return Semantics.chat(normalize(Reassembler.message(from: stream.chunks), notes: &notes), request: sent)
            }
            guard let completion = try? StrictJSON.parse(exchange.body) else { return [] }
            return Semantics.chat(completion, request: sent)
        }
        if path.hasSuffix("/embeddings"), let response = try? StrictJSON.parse(exchange.body) {
            var floats: JSON?
            if sent["encoding_format"] == .string("base64"), case .object(var plain) = sent {
                plain["encoding_format"] = .string("float")
                var companion = request
                companion.body = Array(JSON.object(plain).description.utf8)
                floats = (try? client.send(companion)).flatMap { try? StrictJSON.parse($0.body) }
            }
            return Semantics.embeddings(response, request: sent, floats: floats)
        }
        return []
    }

    /// Splits mismatches into failures and declared divergences of the profile.
    private func layer(_ name: String, _ mismatches: [Mismatch], _ golden: Golden) -> CaseResult.Layer {
        var result = CaseResult.Layer(name: name)
        for mismatch in mismatches {
            if let divergence = profile.declared(mismatch, layer: name, inCase: golden.id) {
                result.declared.append((mismatch, divergence.note))
            } else if mismatch.severity == .warn {
                result.warnings.append(mismatch)
            } else {
                result.failures.append(mismatch)
            }
        }
        return result
    }
}
