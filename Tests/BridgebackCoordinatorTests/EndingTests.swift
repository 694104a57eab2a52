import BridgebackAMQP
@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

@Suite("Endings without a normal completion: lost and dead-lettered jobs")
struct EndingTests {
    @Test("no completion by deadline + grace: exactly one lost notice, late answers ignored")
    func lost() async throws {
        let h = try Harness()
        let contract = makeContract(deadline: Date().addingTimeInterval(-5))
        let fresh = makeContract(deadline: Date().addingTimeInterval(600))
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleContract(body(fresh))
            try await h.coordinator.sweep()
            try await h.coordinator.sweep()
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
            // The job's answer shows up after all: recorded as a duplicate, not delivered.
            #expect(try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID))) == .ack)
            try await h.coordinator.sweep()
            try await Task.sleep(for: .milliseconds(100))
        }
        let inbox = h.publisher.messages(exchange: "bb.inbox")
        #expect(inbox.count == 1)
        let notice = try decodeNotice(inbox[0].body)
        #expect(notice.jobID == contract.jobID)
        #expect(notice.kind == .lost)
        #expect(try await h.ledger.job(contract.jobID)?.duplicates == 1)
        #expect(try await h.ledger.job(fresh.jobID)?.lifecycle.state.name == "awaiting_completion")
    }

    @Test("a dead-lettered job ends as exactly one failure notice")
    func deadLettered() async throws {
        let h = try Harness()
        let contract = makeContract()
        let job = try body(JobMessage(contract: contract))
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            #expect(try await h.coordinator.handleDeadLetter(job, reason: "delivery limit reached on bb.jobs.default") == .ack)
            #expect(try await h.coordinator.handleDeadLetter(job, reason: "delivery limit reached on bb.jobs.default") == .ack)
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
            try await Task.sleep(for: .milliseconds(50))
        }
        let inbox = h.publisher.messages(exchange: "bb.inbox")
        #expect(inbox.count == 1)
        let notice = try decodeNotice(inbox[0].body)
        #expect(notice.kind == .failure)
        #expect(notice.text.contains("delivery limit reached"))
    }

    @Test("x-death headers become words")
    func deathReason() {
        let described = DeadLetterReason.describe([
            "x-death": .array([.table(["reason": .string("delivery_limit"), "queue": .string("bb.jobs.default"), "count": .int(1)])])
        ])
        #expect(described == "delivery limit reached on bb.jobs.default after 1 time(s)")
        #expect(DeadLetterReason.describe([:]) == "dead-lettered by the broker")
    }
}
