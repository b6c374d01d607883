/// IBAN and BIC checks for payout accounts and SEPA files.
enum BankDetails {
    /// IBAN lengths of the SEPA countries (ISO 13616 registry).
    static let sepaLengths: [String: Int] = [
        "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27,
        "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
        "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
    ]

    /// An IBAN without spaces, uppercased, if it is a SEPA country's, of that country's length,
    /// and its ISO 13616 mod-97 checksum is right.
    static func iban(_ text: String) -> String? {
        let iban = text.uppercased().filter { $0 != " " }
        let chars = Array(iban)
        guard chars.count >= 4, sepaLengths[String(chars[0..<2])] == chars.count, chars[0].isASCIILetter, chars[1].isASCIILetter, chars[2].isASCIIDigit, chars[3].isASCIIDigit,
            chars.allSatisfy({ $0.isASCIIDigit || $0.isASCIILetter })
        else { return nil }
        var remainder = 0
        for character in chars[4...] + chars[..<4] {
            let value = character.isASCIIDigit ? Int(String(character))! : Int(character.asciiValue! - 55)
            for digit in String(value) { remainder = (remainder * 10 + Int(String(digit))!) % 97 }
        }
        return remainder == 1 ? iban : nil
    }

    /// A BIC (ISO 9362) as SEPA files accept it: 6 letters, 2 location characters, an optional branch.
    static func bic(_ text: String) -> String? {
        let bic = Array(text.uppercased().filter { $0 != " " })
        guard bic.count == 8 || bic.count == 11, bic[0..<6].allSatisfy(\.isASCIILetter),
            bic[6].isASCIILetter || ("2"..."9").contains(bic[6]), bic[7] != "O", bic[7].isASCIILetter || bic[7].isASCIIDigit,
            bic[8...].allSatisfy({ $0.isASCIILetter || $0.isASCIIDigit })
        else { return nil }
        return String(bic)
    }
}

extension Character {
    var isASCIILetter: Bool { isASCII && isLetter && isUppercase }
}
