import Foundation
import Logging
@testable import PortenHub
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

    @Test func aHandedOverRowWhoseWriteFailedIsWrittenOnceTheDatabaseIsBack() async throws {
        // The database refuses usage rows for a while.
        try await withRefusingStore("") { store, recorder in
            recorder.record(row("req_cut"))  // a stream the client cut: nobody waits for its row
            await recorder.flush()
            // A committed row is refused to its request, which answers 503 and hands over a row of its own.
            #expect(await recorder.commit(row("req_answer")) == false)
            #expect(try await store.recentUsage(limit: 10).isEmpty)
            try await store.writer.write { db in try db.execute(sql: "DROP TRIGGER refuse") }
            recorder.record(row("req_next"))
            await recorder.flush()
            #expect(try await store.recentUsage(limit: 10).map(\.requestID).sorted() == ["req_cut", "req_next"])
        }
    }

    @Test func aKeptRowRefusedAgainIsDroppedNotReplayedForever() async throws {
        try await withRefusingStore("WHEN NEW.request_id = 'req_poison'") { store, recorder in
            recorder.record(row("req_poison"))
            await recorder.flush()  // refused: kept
            recorder.record(row("req_1"))
            await recorder.flush()  // written; the kept row's one retry is refused: dropped
            try await store.writer.write { db in try db.execute(sql: "DROP TRIGGER refuse") }
            recorder.record(row("req_2"))
            await recorder.flush()
            #expect(try await store.recentUsage(limit: 10).map(\.requestID).sorted() == ["req_1", "req_2"])
        }
    }

    /// A running recorder on an in-memory store whose trigger `refuse` refuses usage rows (those
    /// `condition` picks) until the test drops it.
    private func withRefusingStore(_ condition: String, _ body: (SQLiteStore, UsageRecorder) async throws -> Void) async throws {
        let store = try SQLiteStore.inMemory()
        let recorder = UsageRecorder(store: store, logger: Logger(label: "test"))
        let running = Task { try await recorder.run() }
        defer { running.cancel() }
        try await store.writer.write { db in
            try db.execute(sql: "CREATE TEMP TRIGGER refuse BEFORE INSERT ON usage \(condition) BEGIN SELECT RAISE(ABORT, 'refused'); END")
        }
        try await body(store, recorder)
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

    @Test func aFlushReturnsWithTheRowsHandedOverBeforeIt() async throws {
        let store = try SQLiteStore.inMemory()
        let recorder = UsageRecorder(store: store, logger: Logger(label: "test"))
        let running = Task { try await recorder.run() }
        defer { running.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    if index.isMultiple(of: 2) {
                        #expect(await recorder.commit(self.row("req_c\(index)")))
                    } else {
                        recorder.record(self.row("req_r\(index)"))
                        await recorder.flush()
                        // What was handed over before the flush is stored when it returns.
                        let stored = try await store.recentUsage(limit: 100).map(\.requestID)
                        #expect(stored.contains("req_r\(index)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.recentUsage(limit: 100).count == 40)
    }

    @Test func aCancelledRequestsCommitIsStillWritten() async throws {
        let store = try SQLiteStore.inMemory()
        let recorder = UsageRecorder(store: store, logger: Logger(label: "test"))
        let running = Task { try await recorder.run() }
        defer { running.cancel() }
        // The database interrupts a cancelled task's write; the row goes with the loop's instead.
        let request = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await recorder.commit(self.row("req_gone"))
        }
        #expect(await request.value)
        #expect(try await store.recentUsage(limit: 10).map(\.requestID) == ["req_gone"])
    }

    @Test func aRequestMeteredAloneWritesItsOwnRowWhileUnderLoadTheLoopWrites() async throws {
        let store = try SQLiteStore.inMemory()
        let recorder = UsageRecorder(store: store, logger: Logger(label: "test"))
        // No loop yet: a lone request's commit returns only if it wrote its row itself.
        recorder.meteringStarted()
        let lone = Task { await recorder.commit(self.row("req_alone")) }
        var stored: [String] = []
        for _ in 0..<500 where stored.isEmpty {
            stored = try await store.recentUsage(limit: 10).map(\.requestID)
            if stored.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(stored == ["req_alone"])
        // Another request is being metered: its commit is batched by the loop, not written in
        // the request's own thread (an HTTP connection's event loop).
        recorder.meteringStarted()
        let batched = Task { await recorder.commit(self.row("req_batched")) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await store.recentUsage(limit: 10).count == 1)
        let running = Task { try await recorder.run() }
        defer { running.cancel() }
        #expect(await lone.value)
        #expect(await batched.value)
        #expect(try await store.recentUsage(limit: 10).count == 2)
    }
}
