/// An amount of the Hub's currency in integer micro-units (10⁻⁶): never floating point.
public struct Money: Sendable, Hashable, Comparable, Codable {
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    public static let zero = Money(micros: 0)
    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.micros < rhs.micros }

    /// Parses a decimal amount such as `10`, `10.5` or `-0.000001` exactly (at most 6 decimals,
    /// at most 10¹² units); nil for anything else.
    public init?(decimal text: String) {
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 12, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        var fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= 6, fraction.allSatisfy(\.isASCIIDigit), parts.count == 1 || !fraction.isEmpty else { return nil }
        fraction += String(repeating: "0", count: 6 - fraction.count)
        guard let units = Int64(whole), let micros = Int64(fraction) else { return nil }
        self.micros = (units * 1_000_000 + micros) * (negative ? -1 : 1)
    }

    /// `12.345678`; with `places: 2`, `12.35` (half away from zero), as SEPA files want.
    public func decimal(places: Int = 6) -> String {
        precondition((0...6).contains(places))
        var step: Int64 = 1
        for _ in 0..<(6 - places) { step *= 10 }
        let magnitude = micros.magnitude
        let rounded = (magnitude + UInt64(step / 2)) / UInt64(step)
        var scale: UInt64 = 1
        for _ in 0..<places { scale *= 10 }
        let whole = rounded / scale
        let fraction = String(rounded % scale)
        let text = places == 0 ? "\(whole)" : "\(whole)." + String(repeating: "0", count: places - fraction.count) + fraction
        return (micros < 0 && rounded != 0 ? "-" : "") + text
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A model's price when a request started: micro-units per million tokens, in and out.
public struct Price: Sendable, Hashable {
    public var inputMicrosPerMillion: Int64
    public var outputMicrosPerMillion: Int64

    public init(inputMicrosPerMillion: Int64, outputMicrosPerMillion: Int64) {
        self.inputMicrosPerMillion = inputMicrosPerMillion
        self.outputMicrosPerMillion = outputMicrosPerMillion
    }

    /// From the catalog's `price_input` / `price_output` (units per million tokens), rounded to the micro-unit.
    public init(_ model: CatalogModel) {
        inputMicrosPerMillion = Self.micros(model.priceInput)
        outputMicrosPerMillion = Self.micros(model.priceOutput)
    }

    private static func micros(_ units: Double) -> Int64 {
        guard units.isFinite, units > 0 else { return 0 }
        return Int64(min(units, 1e9) * 1_000_000 + 0.5)
    }

    /// What `prompt` and `completion` tokens cost, rounded half up to the micro-unit.
    public func cost(prompt: Int, completion: Int) -> Money {
        let (input, overflowIn) = Int64(prompt).multipliedReportingOverflow(by: inputMicrosPerMillion)
        let (output, overflowOut) = Int64(completion).multipliedReportingOverflow(by: outputMicrosPerMillion)
        let (sum, overflowSum) = input.addingReportingOverflow(output)
        guard !overflowIn, !overflowOut, !overflowSum, sum < .max - 500_000 else { return Money(micros: .max / 1_000_000) }
        return Money(micros: (sum + 500_000) / 1_000_000)
    }
}
