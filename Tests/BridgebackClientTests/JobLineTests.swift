import BridgebackClient
import BridgebackCore
import Foundation
import Testing

/// `bridgeback jobs`' human forms when admission is down and only the coordinator's status
/// answers: one line per job, and one job in detail with each part and what comes next.
@Suite("Job lines: what bridgeback jobs prints")
struct JobLineTests {
    static let delivered = JobDeliveryStatus(
        jobID: "job_01JDELIVERED", state: "delivered", summary: "Run the release gate for api 2.3", asked: "is api 2.3 ready?",
        recipe: "release-gate", origin: "cli:alice", finalSurface: "hooks:ops", finalSurfaceName: "the ops webhook",
        deliveryMode: "direct", deliveryModeName: "direct", createdAt: "2026-12-01T09:12:00Z", worker: "host-a/1234", runSeconds: 3,
        finishedAt: "2026-12-01T09:12:04Z", turnaroundSeconds: 4, duplicatesSuppressed: 1, human: "delivered to the ops webhook",
        parts: [
            PartStatus(
                deliveryID: "dlv_1", purpose: "final", part: 1, totalParts: 2, surface: "hooks:ops", surfaceName: "the ops webhook",
                state: "delivered", stateText: "delivered", attempts: 1, lastFailure: nil, nextAttemptAt: nil,
                deliveredAt: "2026-12-01T09:12:04Z", updatedAt: "2026-12-01T09:12:04Z"),
            PartStatus(
                deliveryID: "dlv_2", purpose: "final", part: 2, totalParts: 2, surface: "hooks:ops", surfaceName: nil,
                state: "retrying", stateText: "waiting to retry", attempts: 3, lastFailure: nil,
                nextAttemptAt: "2030-01-01T00:00:00Z", deliveredAt: nil, updatedAt: "2026-12-01T09:12:04Z"),
        ])

    @Test func oneLineSaysWhatWasAskedWhereItWentHowLongAndWhichJob() {
        let line = JobLine.line(Self.delivered)
        let fields = line.components(separatedBy: " · ")
        #expect(fields.count == 6, "\(line)")
        #expect(fields[1] == "\"Run the release gate for api 2.3\"")
        #expect(fields[2] == "release-gate")
        #expect(fields[3] == "delivered to the ops webhook")
        #expect(fields[4] == HumanText.duration(seconds: 4))
        #expect(fields[5] == "job_01JDELIVERED")
    }

    @Test func aJobWithoutItsContractStillGetsALine() {
        let bare = JobDeliveryStatus(jobID: "job_01JBARE", state: "running", human: "running")
        #expect(JobLine.line(bare) == "--:-- · \"?\" · ? · running · job_01JBARE")
    }

    @Test func theDetailListsEveryPartAndTheNextTry() {
        let detail = JobLine.detail(
            Self.delivered, registry: nil, note: "admission did not answer", resultLine: "bridgeback jobs show x --result")
        let lines = detail.components(separatedBy: "\n")
        #expect(lines.first == "Run the release gate for api 2.3")
        #expect(lines.contains("  job        job_01JDELIVERED"))
        #expect(lines.contains("  asked      \"is api 2.3 ready?\" in cli:alice"))
        #expect(lines.contains("  final      the ops webhook (hooks:ops)"))
        #expect(lines.contains("  ran        on host-a/1234 for \(HumanText.duration(seconds: 3))"))
        #expect(lines.contains("  duplicates 1 repeated ending(s) acknowledged and not delivered"))
        #expect(lines.contains("    1/2 final → the ops webhook (hooks:ops): delivered"))
        #expect(lines.contains("    2/2 final → hooks:ops: waiting to retry"))
        #expect(lines.contains { $0.hasPrefix("        next try: 20") && $0.contains("(in ") })
        #expect(lines.contains("        delivery id dlv_2, 3 attempts"))
        #expect(lines.suffix(2) == ["  note: admission did not answer", "  full result: bridgeback jobs show x --result"])
    }

    @Test func relativeTimesReadBothWays() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(JobLine.relative(now.addingTimeInterval(120), now: now) == "in \(HumanText.duration(seconds: 120))")
        #expect(JobLine.relative(now.addingTimeInterval(-180), now: now) == "\(HumanText.duration(seconds: 180)) ago")
    }

    @Test func parametersPrintPlainly() {
        #expect(JobLine.plain(.string("api")) == "api")
        #expect(JobLine.plain(.number(3)) == "3")
        #expect(JobLine.plain(.number(2.5)) == "2.5")
        #expect(JobLine.plain(.bool(true)) == "true")
        #expect(JobLine.plain(.array([.string("a/b"), .number(1)])) == #"["a/b",1]"#)
    }
}
