@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import GRDB
import Testing

@Suite("Ledger retention: pruning jobs the ledger is done with, without a second final notice")
struct LedgerRetentionTests {
    /// One hour, pruned only when a test calls `prune()` (the loop's first pass runs at start).
    static func keepOneHour(batch: Int = 500) -> CoordinatorConfiguration {
        var configuration = Harness.fastConfiguration
        configuration.retention = Retention(keep: 3600, interval: .seconds(3600), batch: batch)
        return configuration
    }

    /// A contract for the parent inbox whose job id was made `ago` seconds before now.
    static func contract(madeAgo ago: TimeInterval) -> OwnershipContract {
        var contract = makeContract()
        contract.jobID = JobID.make(at: Date().addingTimeInterval(-ago))
        return contract
    }

    /// Contract and completion handed over; returns once the notice is delivered.
    static func finish(_ harness: Harness, _ contract: OwnershipContract) async throws {
        #expect(try await harness.coordinator.handleContract(body(contract)) == .ack)
        #expect(try await harness.coordinator.handleCompletion(body(makeCompletion(contract.jobID))) == .ack)
        #expect(try await eventually { try await harness.ledger.outcome(contract.jobID) == "delivered" })
    }

    static func partRows(_ ledger: Ledger, _ id: JobID) async throws -> Int {
        try await ledger.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM delivery_parts WHERE job_id = ?", arguments: [id.description]) ?? -1
        }
    }

    @Test("a finished job made before the horizon goes with its parts; newer, running and unreported parked jobs stay")
    func prunesOnlyWhatIsDoneWith() async throws {
        let harness = try Harness(configuration: Self.keepOneHour())
        let oldFinished = Self.contract(madeAgo: 7200)
        let newFinished = Self.contract(madeAgo: 60)
        let oldRunning = Self.contract(madeAgo: 7200)
        let oldParked = JobID.make(at: Date().addingTimeInterval(-7200))
        try await harness.running { () async throws in
            try await Self.finish(harness, oldFinished)
            try await Self.finish(harness, newFinished)
            #expect(try await harness.coordinator.handleContract(body(oldRunning)) == .ack)
            #expect(try await harness.coordinator.handleCompletion(body(makeCompletion(oldParked))) == .ack)
            #expect(try await Self.partRows(harness.ledger, oldFinished.jobID) == 1)

            #expect(try await harness.coordinator.prune() == 1)
        }
        #expect(try await harness.ledger.job(oldFinished.jobID) == nil)
        #expect(try await Self.partRows(harness.ledger, oldFinished.jobID) == 0)
        #expect(try await harness.ledger.job(newFinished.jobID)?.finalOutcome == "delivered")
        #expect(try await harness.ledger.job(oldRunning.jobID)?.lifecycle.state.name == "awaiting_completion")
        #expect(try await harness.ledger.job(oldParked)?.lifecycle.state.name == "completion_parked")
        // Nothing left to prune: a second pass deletes nothing.
        #expect(try await harness.coordinator.prune() == 0)
    }

    @Test("a contract or completion of a pruned job is refused to bb.parked; the parent got its notice once")
    func pruneDoesNotStartAJobAgain() async throws {
        let harness = try Harness(configuration: Self.keepOneHour())
        let pruned = Self.contract(madeAgo: 7200)
        let control = Self.contract(madeAgo: 7200)
        try await harness.running { () async throws in
            // Before any prune an old job is handled as any other: the mark decides, not the age.
            try await Self.finish(harness, pruned)
            // As old, but still running when the prune comes: kept, and finished after it.
            #expect(try await harness.coordinator.handleContract(body(control)) == .ack)
            #expect(try await harness.coordinator.prune() == 1)

            // The outbox replays the contract, a worker runs the job again.
            let contractAgain = try await harness.coordinator.handleContract(body(pruned))
            let completionAgain = try await harness.coordinator.handleCompletion(body(makeCompletion(pruned.jobID)))
            for disposition in [contractAgain, completionAgain] {
                guard case .reject(let reason) = disposition else {
                    Issue.record("expected a refusal, got \(disposition)")
                    continue
                }
                #expect(reason.contains("older than the ledger keeps"))
                #expect(reason.contains(pruned.jobID.description))
            }
            // A cancel of the pruned job is answered as for a job whose contract is unknown.
            let cancel = CancelNotice(jobID: pruned.jobID, requestedBy: "alice", requestedAt: Date())
            guard case .refused(.contractUnknown) = try await harness.coordinator.cancel(cancel, visible: { _ in true }) else {
                Issue.record("a cancel of a pruned job was not refused as unknown")
                return
            }
            // The running job made as long ago is still in the ledger: its completion is delivered.
            #expect(try await harness.coordinator.handleCompletion(body(makeCompletion(control.jobID))) == .ack)
            #expect(try await eventually { try await harness.ledger.outcome(control.jobID) == "delivered" })
        }
        #expect(try await harness.ledger.job(pruned.jobID) == nil)
        let notices = try harness.publisher.messages(exchange: "bb.inbox").map { try decodeNotice($0.body).jobID }
        #expect(notices.filter { $0 == pruned.jobID }.count == 1)
        #expect(notices.filter { $0 == control.jobID }.count == 1)
    }

    @Test("the pruned-before mark survives a restart and reaches a standby; keeping every job afterwards does not let a pruned job in")
    func markSurvivesRestart() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).sqlite").path
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let pruned = Self.contract(madeAgo: 7200)
        // A standby opens the file before the active coordinator prunes, and takes over after.
        let standby = try Ledger(path: path)
        do {
            let first = try Harness(ledger: try Ledger(path: path), configuration: Self.keepOneHour())
            try await first.running { () async throws in
                try await Self.finish(first, pruned)
                #expect(try await first.coordinator.prune() == 1)
            }
        }
        var keepAll = Harness.fastConfiguration
        keepAll.retention = .keepEverything
        for ledger in [try Ledger(path: path), standby] {
            let restarted = try Harness(ledger: ledger, configuration: keepAll)
            #expect(try await restarted.ledger.prunedBeforeMilliseconds() > pruned.jobID.milliseconds)
            guard case .reject = try await restarted.coordinator.handleContract(body(pruned)) else {
                Issue.record("a pruned job's contract was taken after a restart or a standby's take-over")
                continue
            }
            #expect(try await restarted.ledger.job(pruned.jobID) == nil)
        }
        // A job made after the mark is handled as before.
        let later = Self.contract(madeAgo: 60)
        #expect(try await Harness(ledger: standby, configuration: keepAll).coordinator.handleContract(body(later)) == .ack)
    }

    @Test("without retention nothing is pruned and no message is refused for its age")
    func keepEverything() async throws {
        var configuration = Harness.fastConfiguration
        configuration.retention = .keepEverything
        let harness = try Harness(configuration: configuration)
        let old = Self.contract(madeAgo: 400 * 86_400)
        try await harness.running { () async throws in
            try await Self.finish(harness, old)
            #expect(try await harness.coordinator.prune() == 0)
        }
        #expect(try await harness.ledger.job(old.jobID)?.finalOutcome == "delivered")
        #expect(try await harness.ledger.prunedBeforeMilliseconds() == 0)
    }

    @Test("a pass prunes in transactions of `batch` jobs until fewer are left")
    func prunesInBatches() async throws {
        let harness = try Harness(configuration: Self.keepOneHour(batch: 2))
        let old = (0..<5).map { _ in Self.contract(madeAgo: 7200) }
        try await harness.running { () async throws in
            for contract in old { try await Self.finish(harness, contract) }
            let writes = harness.ledger.changeCount
            #expect(try await harness.coordinator.prune() == 5)
            // 2 + 2 + 1: three transactions.
            #expect(harness.ledger.changeCount - writes == 3)
        }
        for contract in old { #expect(try await harness.ledger.job(contract.jobID) == nil) }
    }

    @Test("the cutoff is `keep` before now, in Unix milliseconds; the flags' days and seconds")
    func cutoff() {
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        #expect(Retention(keep: 86_400).cutoffMilliseconds(now: now) == 1_794_913_600_000)
        #expect(Retention.keepEverything.cutoffMilliseconds(now: now) == nil)
        #expect(Retention.standard.keep == TimeInterval(30 * 86_400))
        #expect(Retention(days: 0, intervalSeconds: 60) == .keepEverything)
        #expect(Retention(days: 2, intervalSeconds: 0.5) == Retention(keep: 172_800, interval: .milliseconds(500)))
        // Every id made before the cutoff sorts below its floor, and none made at or after it.
        let floor = JobID.floor(milliseconds: 1_794_913_600_000)
        #expect(JobID.make(at: Date(timeIntervalSince1970: 1_794_913_599.999)) < floor)
        #expect(JobID.make(at: Date(timeIntervalSince1970: 1_794_913_600)) >= floor)
    }
}
