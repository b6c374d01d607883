import Foundation

/// A SEPA credit-transfer initiation (ISO 20022 `pain.001.001.03`) paying a run's payouts, and
/// the same payouts as CSV.
enum SEPACreditTransfer {
    static func xml(run: PayoutRun, payouts: [Payout], currency: String, now: Date = Date()) -> String {
        let total = Money(micros: payouts.reduce(0) { $0 + $1.amount })
        let messageID = "PORTEN-" + run.period + "-" + String(Int(now.timeIntervalSince1970))
        var transfers = ""
        for payout in payouts {
            transfers += """
                      <CdtTrfTxInf>
                        <PmtId><EndToEndId>\(endToEndID(payout))</EndToEndId></PmtId>
                        <Amt><InstdAmt Ccy="\(text(currency, max: 3))">\(Money(micros: payout.amount).decimal(places: 2))</InstdAmt></Amt>
                        <CdtrAgt><FinInstnId><BIC>\(payout.bic)</BIC></FinInstnId></CdtrAgt>
                        <Cdtr><Nm>\(text(payout.holder, max: 70))</Nm></Cdtr>
                        <CdtrAcct><Id><IBAN>\(payout.iban)</IBAN></Id></CdtrAcct>
                        <RmtInf><Ustrd>\(text("Porten earnings \(payout.period) \(payout.accountID)", max: 140))</Ustrd></RmtInf>
                      </CdtTrfTxInf>

                """
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
              <CstmrCdtTrfInitn>
                <GrpHdr>
                  <MsgId>\(text(messageID, max: 35))</MsgId>
                  <CreDtTm>\(timestamp(now))</CreDtTm>
                  <NbOfTxs>\(payouts.count)</NbOfTxs>
                  <CtrlSum>\(total.decimal(places: 2))</CtrlSum>
                  <InitgPty><Nm>\(text(run.debtorName, max: 70))</Nm></InitgPty>
                </GrpHdr>
                <PmtInf>
                  <PmtInfId>\(text("PORTEN-" + run.period, max: 35))</PmtInfId>
                  <PmtMtd>TRF</PmtMtd>
                  <BtchBookg>true</BtchBookg>
                  <NbOfTxs>\(payouts.count)</NbOfTxs>
                  <CtrlSum>\(total.decimal(places: 2))</CtrlSum>
                  <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf>
                  <ReqdExctnDt>\(day(now))</ReqdExctnDt>
                  <Dbtr><Nm>\(text(run.debtorName, max: 70))</Nm></Dbtr>
                  <DbtrAcct><Id><IBAN>\(run.debtorIBAN)</IBAN></Id></DbtrAcct>
                  <DbtrAgt><FinInstnId><BIC>\(run.debtorBIC)</BIC></FinInstnId></DbtrAgt>
                  <ChrgBr>SLEV</ChrgBr>
            \(transfers)    </PmtInf>
              </CstmrCdtTrfInitn>
            </Document>

            """
    }

    /// The id the bank reports back: the payout id in SEPA's character set (`payout_Ab3…` → `payout-Ab3…`).
    static func endToEndID(_ payout: Payout) -> String {
        String(payout.id.replacingOccurrences(of: "_", with: "-").prefix(35))
    }

    static func csv(payouts: [Payout], currency: String) -> String {
        var lines = ["payout_id,end_to_end_id,period,account_id,holder,iban,bic,amount,currency,status"]
        for payout in payouts {
            lines.append(
                [payout.id, endToEndID(payout), payout.period, payout.accountID, payout.holder, payout.iban, payout.bic, Money(micros: payout.amount).decimal(places: 2),
                 currency, payout.status.rawValue].map(CSV.field).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text as SEPA's restricted Latin set allows (letters, digits, `/-?:().,'+ ` and space),
    /// other characters replaced by a space, cut to `max`, then XML-escaped.
    static func text(_ value: String, max: Int) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
        // Accents dropped first (Zoë → Zoe, Müller → Muller), so names stay recognisable.
        let folded = value.folding(options: [.diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .replacingOccurrences(of: "ß", with: "ss")
        let latin = String(folded.map { allowed.contains($0) ? $0 : " " }.prefix(max)).trimmingCharacters(in: .whitespaces)
        return (latin.isEmpty ? "-" : latin).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "'", with: "&apos;")
    }

    static func timestamp(_ date: Date) -> String { UTC.format(date, "yyyy-MM-dd'T'HH:mm:ss") }
    static func day(_ date: Date) -> String { UTC.format(date, "yyyy-MM-dd") }
}

/// RFC 4180 fields; a leading `=`, `+`, `-` or `@` is prefixed with `'` so spreadsheets do not
/// run it as a formula.
enum CSV {
    static func field(_ value: String) -> String {
        var value = value
        if let first = value.first, "=+-@".contains(first), Double(value) == nil { value = "'" + value }
        guard value.contains(where: { ",\"\n\r".contains($0) }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
