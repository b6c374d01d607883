import Foundation

/// A device authorization's user code, `BCDF-GHJK` (RFC 8628 §6.1).
public enum UserCode {
    /// The user-code alphabet: consonants without look-alikes (no vowels, so no words; no 0/O/1/I).
    static let alphabet = Array("BCDFGHJKLMNPQRSTVWXZ")

    /// `BCDF-GHJK`.
    /// (20⁸ ≈ 2.6·10¹⁰ codes, from the system's cryptographic generator.)
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let code = String((0..<8).map { _ in alphabet.randomElement(using: &generator)! })
        return String(code.prefix(4)) + "-" + String(code.suffix(4))
    }

    /// A code as a person typed it: case, spaces and dashes do not matter.
    public static func normalized(_ typed: String) -> String? {
        let letters = typed.uppercased().filter { $0 != "-" && $0 != "+" && !$0.isWhitespace }
        guard letters.count == 8, letters.allSatisfy({ alphabet.contains($0) }) else { return nil }
        return String(letters.prefix(4)) + "-" + String(letters.suffix(4))
    }
}

/// What a machine's poll of the token endpoint gets.
public enum DevicePoll: Sendable, Equatable {
    case pending, slowDown(interval: Int), denied, expired, invalid
    case issued(node: NodeRecord, credential: String)
}

/// Why a token did not enroll a machine.
public enum EnrollmentRefusal: Error, Sendable, Equatable {
    case unknown, revoked, expired, usedUp
}

/// A payout period, a calendar month in UTC.
public enum PayoutPeriod {
    /// The range of `period` if a payout run may pay it `now`: started, and ended unless `allowOpen`.
    static func payable(_ period: String, allowOpen: Bool, now: Date) throws(PayoutRunError) -> (start: Date, end: Date) {
        guard let range = range(period) else { throw .invalidPeriod }
        guard range.start <= now else { throw .periodNotStarted }
        guard allowOpen || range.end <= now else { throw .periodNotEnded }
        return range
    }

    /// `2026-11` → [2026-11-01, 2026-12-01) in UTC; nil for anything else (exactly four digits,
    /// a dash, two digits: `2026-+8` or `02026-8` would name the same month twice).
    public static func range(_ text: String) -> (start: Date, end: Date)? {
        let characters = Array(text)
        guard characters.count == 7, characters[4] == "-", characters.enumerated().allSatisfy({ $0.offset == 4 || $0.element.isASCIIDigit }),
            let year = Int(String(characters[0..<4])), let month = Int(String(characters[5..<7])), (2000...2999).contains(year),
            (1...12).contains(month)
        else { return nil }
        let calendar = UTC.calendar
        guard let start = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            let end = calendar.date(byAdding: .month, value: 1, to: start)
        else { return nil }
        return (start, end)
    }
}

public enum PayoutRunError: Error, Equatable {
    case invalidPeriod, periodNotEnded, periodNotStarted
}
