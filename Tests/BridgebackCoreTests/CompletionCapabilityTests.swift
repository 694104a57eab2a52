import Foundation
import Testing

@testable import BridgebackCore

/// The lifecycle with per-job completion capabilities: a completion without the job's
/// capability is never delivered, whatever order messages arrive in, and cannot push the job's
/// own completion out.
@Suite("Completion capability in the job lifecycle")
struct CompletionCapabilityLifecycleTests {
    let now = Fixtures.now
    static let genuineSecret = "bbc_genuine"

    /// Plain comparison stands in for the coordinator's SHA-256 check.
    static let check: JobLifecycle.CompletionCheck = { completion, contract in
        contract.completionCapabilitySHA256 == nil || completion.capability == contract.completionCapabilitySHA256
    }

    static func contract() throws -> OwnershipContract {
        var contract = try Fixtures.contract()
        contract.completionCapabilitySHA256 = genuineSecret  // the test check compares plainly
        return contract
    }

    static func completion(_ capability: String?, result: String = "all green") -> Completion {
        var completion = Fixtures.completion(.succeeded(result: result))
        completion.capability = capability
        return completion
    }

    static func decision(_ action: JobLifecycle.Action) -> JobLifecycle.FinalDecision? {
        if case .deliverFinal(_, let decision) = action { return decision }
        return nil
    }

    @Test("contract known: a forged completion is rejected and changes nothing; the real one is delivered without its secret")
    func forgedAfterContract() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.contractReceived(try Self.contract(), check: Self.check)
        for forged in [Self.completion(nil, result: "forged"), Self.completion("bbc_guess", result: "forged")] {
            guard case .rejectForged(let reason) = try job.completionReceived(forged, now: now, check: Self.check) else {
                Issue.record("expected rejectForged")
                return
            }
            #expect(!reason.contains(Self.genuineSecret) && !reason.contains("bbc_guess"))
            #expect(job.state == .awaitingCompletion(try Self.contract()))
        }
        let decision = try #require(
            Self.decision(try job.completionReceived(Self.completion(Self.genuineSecret), now: now, check: Self.check)))
        #expect(decision.text == "all green")
        #expect(decision.completion?.capability == nil, "the secret is not kept with the decision")
        // After delivery, a forgery is still rejected (not counted as a duplicate).
        guard case .rejectForged = try job.completionReceived(Self.completion("x"), now: now, check: Self.check) else {
            Issue.record("expected rejectForged")
            return
        }
        #expect(job.duplicates == 0)
    }

    @Test("a forgery parked before the contract cannot push the real completion out")
    func forgedParkedFirst() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        #expect(try job.completionReceived(Self.completion("bbc_forged", result: "forged"), now: now, check: Self.check) == .parked)
        #expect(try job.completionReceived(Self.completion(Self.genuineSecret), now: now, check: Self.check) == .parked)
        // A repeat of either is a duplicate.
        #expect(
            try job.completionReceived(Self.completion("bbc_forged", result: "forged"), now: now, check: Self.check)
                == .acknowledgeDuplicate(count: 1))
        let decision = try #require(Self.decision(try job.contractReceived(try Self.contract(), check: Self.check)))
        #expect(decision.text == "all green")
        #expect(job.forgeriesDiscarded == 1)
    }

    @Test("only forgeries parked: all discarded, the job waits for its real completion")
    func onlyForgeriesParked() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        _ = try job.completionReceived(Self.completion(nil, result: "forged"), now: now, check: Self.check)
        _ = try job.completionReceived(Self.completion("bbc_a", result: "forged"), now: now, check: Self.check)
        #expect(try job.contractReceived(try Self.contract(), check: Self.check) == .none)
        #expect(job.forgeriesDiscarded == 2)
        #expect(job.state == .awaitingCompletion(try Self.contract()))
        #expect(
            Self.decision(try job.completionReceived(Self.completion(Self.genuineSecret), now: now, check: Self.check))?.text == "all green"
        )
    }

    @Test("parked candidates are bounded")
    func bounded() throws {
        var job = JobLifecycle(jobID: Fixtures.jobID)
        for n in 0..<(JobLifecycle.maxParkedCandidates + 5) {
            _ = try job.completionReceived(Self.completion("bbc_\(n)"), now: now, check: Self.check)
        }
        guard case .completionParked(.completion(_, let alternates), _, let duplicates) = job.state else {
            Issue.record("expected parked")
            return
        }
        #expect(alternates.count == JobLifecycle.maxParkedCandidates - 1)
        #expect(duplicates == 5)
    }

    /// Random interleavings with forgeries: exactly one final notice, always the real result.
    @Test(arguments: 0..<60)
    func exactlyOneRealNoticeUnderAnyOrder(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let contract = try Self.contract()
        var events: [Int] = Array(repeating: 0, count: Int.random(in: 1...3, using: &rng))  // contracts
        events += Array(repeating: 1, count: Int.random(in: 1...3, using: &rng))  // genuine completions
        events += Array(repeating: 2, count: Int.random(in: 1...6, using: &rng))  // forgeries
        events.shuffle(using: &rng)
        var job = JobLifecycle(jobID: Fixtures.jobID)
        var decisions: [JobLifecycle.FinalDecision] = []
        for (index, event) in events.enumerated() {
            let action: JobLifecycle.Action
            switch event {
            case 0: action = try job.contractReceived(contract, check: Self.check)
            case 1: action = try job.completionReceived(Self.completion(Self.genuineSecret), now: now, check: Self.check)
            default:
                let capability: String? = index % 3 == 0 ? nil : "bbc_forged_\(index % 2)"
                action = try job.completionReceived(Self.completion(capability, result: "forged"), now: now, check: Self.check)
            }
            if let decision = Self.decision(action) { decisions.append(decision) }
        }
        #expect(decisions.count == 1, "\(events)")
        #expect(decisions.first?.text == "all green", "\(events)")
    }
}
