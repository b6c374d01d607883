import Foundation
import Logging
import PortenHub
import Testing

/// An acknowledged answer's usage row is written before the answer ends (issue #18, finding 7).
struct UsageRecorderTests {
    private func row(_ id: String) -> UsageRecord {
        UsageRecord(
            time: Date(), requestID: id, keyID: nil, accountID: nil, nodeID: nil, region: nil, model: "m", endpoint: "chat.completions",
            promptTokens: 1, completionTokens: 2, status: 200, latencyMS: 3, timeToFirstTokenMS: nil)
    }

    @Test func commitReturnsOnceTheRowIsStoredAndBatchesConcurrentRows() async throws {
        let store = try SQLiteStore.inMemory()
        let recorder = UsageRecorder(store: store, logger: Logger(label: "test"))
        let running = Task { try await recorder.run() }
        defer { running.cancel() }
        await recorder.commit(row("req_first"))
        let first = try await store.recentUsage(limit: 10).map(\.requestID)
        #expect(first == ["req_first"])
        await withTaskGroup(of: Void.self) { commits in
            for index in 0..<50 { commits.addTask { await recorder.commit(self.row("req_\(index)")) } }
        }
        let all = try await store.recentUsage(limit: 100)
        #expect(all.count == 51)
    }

    @Test func afterShutdownRowsAreStillWritten() async throws {
        let store = try SQLiteStore.inMemory()
        let recorder = UsageRecorder(store: store, logger: Logger(label: "test"))
        let running = Task { try await recorder.run() }
        running.cancel()
        try await running.value
        // A commit is written before it returns; a record soon after.
        #expect(await recorder.commit(row("req_late")))
        #expect(try await store.recentUsage(limit: 10).map(\.requestID) == ["req_late"])
        recorder.record(row("req_later"))
        let deadline = ContinuousClock.now + .seconds(10)
        var ids: Set<String> = []
        while ids.count < 2, ContinuousClock.now < deadline {
            ids = Set(try await store.recentUsage(limit: 10).map(\.requestID))
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(ids == ["req_late", "req_later"])
    }
}
