import Foundation
import Logging
import Testing

@testable import BridgebackCoordinator
@testable import BridgebackCore

@Suite("MemoryReclaim: memory is given back once the work falls after a backlog, never per job")
struct MemoryReclaimTests {
    let start = ContinuousClock.now

    @Test("below both marks nothing is armed and nothing is trimmed")
    func idleBelowTheMarks() {
        var policy = MemoryReclaim()
        for second in 0..<100 {
            #expect(policy.observe(inFlight: 200, finished: second * 90, now: start + .seconds(second)) == .none)
        }
        #expect(policy.state == .idle)
    }

    @Test("a backlog arms a trim, which runs once it has drained, with its peak")
    func backlogThenDrain() {
        var policy = MemoryReclaim()
        #expect(policy.observe(inFlight: 600, finished: 0, now: start) == .none)
        #expect(policy.state == .highWater(peak: 600))
        #expect(policy.observe(inFlight: 2_000, finished: 100, now: start + .seconds(1)) == .none)
        #expect(policy.state == .highWater(peak: 2_000))
        // Falling, not fallen: max(32, 2000 / 32 = 62) jobs or fewer count as drained.
        #expect(policy.observe(inFlight: 100, finished: 1_900, now: start + .seconds(2)) == .none)
        #expect(policy.observe(inFlight: 62, finished: 1_938, now: start + .seconds(3)) == .trim(peak: 2_000))
        #expect(policy.state == .trimming)
        // While a trim runs, nothing else starts, however the work moves.
        #expect(policy.observe(inFlight: 5_000, finished: 2_000, now: start + .seconds(4)) == .none)
        #expect(policy.observe(inFlight: 0, finished: 30_000, now: start + .seconds(5)) == .none)
        policy.trimmed(now: start + .seconds(5))
        #expect(policy.state == .idle)
    }

    @Test("a big backlog counts as drained at 1/32 of its peak, so long-running jobs do not hold the trim off")
    func drainedRelativeToThePeak() {
        var policy = MemoryReclaim()
        #expect(policy.observe(inFlight: 32_000, finished: 0, now: start) == .none)
        #expect(policy.observe(inFlight: 1_001, finished: 31_000, now: start + .seconds(30)) == .none)
        #expect(policy.observe(inFlight: 1_000, finished: 31_001, now: start + .seconds(31)) == .trim(peak: 32_000))
    }

    @Test("two trims are at least minimumInterval apart: a drained backlog waits, then trims")
    func minimumInterval() {
        var policy = MemoryReclaim()
        #expect(policy.observe(inFlight: 1_000, finished: 0, now: start) == .none)
        #expect(policy.observe(inFlight: 0, finished: 1_000, now: start + .seconds(1)) == .trim(peak: 1_000))
        policy.trimmed(now: start + .seconds(1))
        #expect(policy.observe(inFlight: 800, finished: 1_000, now: start + .seconds(5)) == .none)
        #expect(policy.observe(inFlight: 0, finished: 1_800, now: start + .seconds(10)) == .none)
        #expect(policy.state == .highWater(peak: 800))
        #expect(policy.observe(inFlight: 0, finished: 1_800, now: start + .seconds(61)) == .trim(peak: 800))
    }

    @Test("much work without a backlog (a steady load) also arms a trim, counted from the last one")
    func volume() {
        var policy = MemoryReclaim()
        #expect(policy.observe(inFlight: 5, finished: 9_999, now: start) == .none)
        #expect(policy.observe(inFlight: 5, finished: 10_000, now: start + .seconds(1)) == .trim(peak: 5))
        policy.trimmed(now: start + .seconds(1))
        #expect(policy.observe(inFlight: 5, finished: 19_999, now: start + .seconds(100)) == .none)
        #expect(policy.state == .idle)
        #expect(policy.observe(inFlight: 5, finished: 20_000, now: start + .seconds(101)) == .trim(peak: 5))
    }

    @Test("work that stops after a thousand jobs or more is trimmed after once it has been quiet a few looks")
    func quietAfterWork() {
        var policy = MemoryReclaim()
        // Busy: something in flight at every look, or too little work, arms nothing.
        #expect(policy.observe(inFlight: 3, finished: 1_500, now: start) == .none)
        for second in 1...4 { #expect(policy.observe(inFlight: 0, finished: 1_500, now: start + .seconds(second)) == .none) }
        #expect(policy.state == .idle)
        #expect(policy.observe(inFlight: 0, finished: 1_500, now: start + .seconds(5)) == .trim(peak: 0))
        policy.trimmed(now: start + .seconds(5))
        // Quiet again, but fewer than 1,000 jobs since the last trim: nothing to give back.
        for second in 6...100 { #expect(policy.observe(inFlight: 0, finished: 2_400, now: start + .seconds(second)) == .none) }
        #expect(policy.state == .idle)
    }

    @Test("the cache counts the jobs it holds and the jobs that finished, what the reclaimer watches")
    func workCounts() {
        let cache = ContractCache(capacity: 16)
        let ids = (0..<5).map { _ in JobID.make() }
        for id in ids { cache.update(id) { $0.contractJSON = "{}" } }
        for id in ids.prefix(3) { cache.remove(id) }
        #expect(cache.workCounts == (inFlight: 2, finished: 3))
    }

    @Test("a give-back releases SQLite's caches and the ledger writes and reads on afterwards")
    func giveBackKeepsTheLedgerWorking() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reclaim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let ledger = try Ledger(path: directory.appendingPathComponent("coordinator.sqlite").path)
        let first = JobID.make()
        try await ledger.write { db in try db.execute(sql: "UPDATE ledger_sync SET syncs = syncs + 1 WHERE id = 1") }
        _ = try await ledger.job(first)
        let report = await MemoryReclaimer.giveBack(ledger)
        #if os(Linux)
            #expect(report.residentBefore > 0)
            #expect(report.residentAfter > 0)
            #expect(report.heapInUse > 0)
            #expect(report.heapFromSystem >= report.heapInUse)
        #endif
        // Statements prepared again, readers opened again, FULL still the writer's mode.
        try await ledger.write { db in try db.execute(sql: "UPDATE ledger_sync SET syncs = syncs + 1 WHERE id = 1") }
        #expect(try await ledger.job(first) == nil)
        #expect(try await ledger.synchronousMode() == 2)
    }

    @Test("the reclaimer's loop ends when its task is cancelled")
    func endsOnCancel() async throws {
        let reclaimer = MemoryReclaimer(ledger: try Ledger.inMemory(), logger: Logger(label: "test"), interval: .milliseconds(10))
        let task = Task { await reclaimer.run() }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await task.value
    }
}
