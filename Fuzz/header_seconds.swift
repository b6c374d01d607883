/// Fuzz target `header_seconds`: arbitrary bytes as the value of `X-Porten-Warmup-Budget`
/// (lossy UTF-8, as a header value reaches the Hub), read by `HeaderSeconds.parse` against each
/// Hub budget in `limits`.
///
/// nil is the expected answer to a value that is not a decimal number ≥ 0; a trap is a finding,
/// and so is a broken invariant: an accepted value gives 0…limit, the limit itself when the value
/// is at or past it, and otherwise the value to the millisecond.
import Foundation
import OpenAIWire

/// Hub budgets to read the header against, over the range `porten hub --warmup-budget` takes
/// (0 to a week, `HubCommand.longestDuration`): none, tiny, the default, the longest.
private let limits: [Duration] = [.zero, .milliseconds(1), .seconds(300), .seconds(7 * 86_400)]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var accepted: Bool?
    for limit in limits {
        let budget = HeaderSeconds.parse(value, limit: limit)
        check(accepted == nil || accepted == (budget != nil), "'\(value)' accepted under one limit but not under another")
        accepted = budget != nil
        guard let budget else { continue }
        check(budget >= .zero && budget <= limit, "'\(value)' gave \(budget), outside 0…\(limit)")
        // The parser's own reading of the text; it accepted it, so it must be a number ≥ 0.
        guard let seconds = Double(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 else {
            fatalError("'\(value)' accepted but is not a number ≥ 0")
        }
        if seconds >= limit / .seconds(1) {
            check(budget == limit, "'\(value)' is past the limit \(limit) but gave \(budget)")
        } else if budget < limit {
            let milliseconds = Double(budget.components.seconds) * 1000 + Double(budget.components.attoseconds) / 1e15
            check(abs(milliseconds - seconds * 1000) <= 0.5 + seconds * 1e-12, "'\(value)' gave \(budget) under the limit \(limit)")
        }
    }
    return 0
}

