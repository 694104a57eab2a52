@testable import BridgebackAudit
import Testing

/// Issue #16: a deadline overrun is told to raise the deadline or split the work, not to fix the recipe.
@Suite("Audit delivery advice")
struct DeliveryAdviceTests {
    @Test("a job stopped at its deadline is told to raise the deadline or split the work")
    func deadlineOverrun() {
        let overrun = LedgerJob(
            jobID: "j1", state: "finished", endingKind: "failure",
            endingText: "deadline exceeded: recipe 'sweep' was still running at 2026-11-15T06:00:00Z and was stopped")
        let advice = Auditor.contractSuggestion(overrun)
        #expect(advice.contains("Raise the job's deadline"))
        #expect(advice.contains("split the work"))
        #expect(!advice.contains("Fix the recipe"))
        let queued = LedgerJob(
            jobID: "j3", state: "finished", endingKind: "failure",
            endingText: "deadline exceeded: the job's deadline 2026-11-15T06:00:00Z had passed before it started")
        #expect(Auditor.contractSuggestion(queued).hasPrefix("Add workers to the job's pool"))
        let crashed = LedgerJob(jobID: "j2", state: "finished", endingKind: "failure", endingText: "disk full")
        #expect(Auditor.contractSuggestion(crashed).contains("Fix the recipe"))
    }
}
