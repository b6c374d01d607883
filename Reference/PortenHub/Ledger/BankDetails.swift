/// IBAN and BIC checks for payout accounts and SEPA files.
enum BankDetails {
    /// An IBAN without spaces, uppercased, if its shape and ISO 13616 mod-97 checksum are right.
    static func iban(_ text: String) -> String? {
        let iban = text.uppercased().filter { $0 != " " }
        let chars = Array(iban)
        guard (15...34).contains(chars.count), chars[0].isASCIILetter, chars[1].isASCIILetter, chars[2].isASCIIDigit, chars[3].isASCIIDigit,
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
