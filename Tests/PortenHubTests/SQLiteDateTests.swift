import Foundation
import GRDB
import Testing

@testable import PortenHub

struct SQLiteDateTests {
    /// GRDB's own text for a date (a `DateFormatter`), which existing rows hold.
    private func grdb(_ date: Date) -> String? { String.fromDatabaseValue(date.databaseValue) }

    @Test func writesWhatGRDBWrites() {
        var generator = SystemRandomNumberGenerator()
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
            Date(timeIntervalSince1970: 4_107_542_399.999), Date(timeIntervalSince1970: 1_764_547_199.9996),
            Date(timeIntervalSince1970: 253_402_300_799.999),  // 9999-12-31
        ]
        // The Hub writes the time of a request. Before 1970 (negative intervals) Foundation's
        // formatter rounds a few milliseconds in 10,000 the other way; no row holds such a date.
        for _ in 0..<5_000 { dates.append(Date(timeIntervalSince1970: Double.random(in: 0...7_000_000_000, using: &generator))) }
        for date in dates {
            #expect(SQLiteDate.text(date) == grdb(date), "\(date.timeIntervalSince1970)")
        }
    }

    @Test func readsBackAsTheSameMillisecond() {
        let date = Date(timeIntervalSince1970: 1_764_547_199.123)
        let read = Date.fromDatabaseValue(SQLiteDate.text(date).databaseValue)
        #expect(read.map { ($0.timeIntervalSince1970 * 1000).rounded() } == 1_764_547_199_123)
    }
}
