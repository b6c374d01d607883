/// Merges streamed tool-call pieces into whole calls: keyed by `index`, the first piece gives the
/// id and name, `arguments` fragments are concatenated (the SDKs' accumulate rule).
public struct ToolCallAssembler: Sendable {
    private var calls: [Int: ToolCall] = [:]

    public init() {}

    public mutating func add(_ piece: ToolCallDelta) {
        var call = calls[piece.index] ?? ToolCall(id: "", name: "", arguments: "")
        if let id = piece.id { call.id = id }
        if let name = piece.name { call.function.name += name }
        if let arguments = piece.arguments { call.function.arguments += arguments }
        calls[piece.index] = call
    }

    public var isEmpty: Bool { calls.isEmpty }

    /// The calls in index order.
    public var toolCalls: [ToolCall] { calls.sorted { $0.key < $1.key }.map(\.value) }
}
