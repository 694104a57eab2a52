@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

@Suite("Restart: a part left in `sending` by a stop")
struct RestartTests {
    /// Runs a coordinator whose adapter hangs in `send`, waits for the ledger to say
    /// `sending`, then stops it hard (as kill -9 would leave the row).
    private func crashMidSend(ledger: Ledger, contract: OwnershipContract, kind: SurfaceKind) async throws {
        let crashing = try Harness(ledger: ledger, override: [kind: HangingAdapter()])
        try await crashing.running { () async throws in
            _ = try await crashing.coordinator.handleContract(body(contract))
            _ = try await crashing.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await ledger.parts(of: contract.jobID).first?.state.name == "sending" })
        }
        #expect(try await ledger.parts(of: contract.jobID).first?.state.name == "sending")
    }

    private func temporaryLedgerPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).sqlite").path
    }

    @Test("non-deduplicating receiver (stdout): the interrupted send becomes uncertain, is never re-sent, parent told")
    func uncertainForNonDedup() async throws {
        let path = temporaryLedgerPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let contract = makeContract(final: "out:demo", mode: .direct)
        try await crashMidSend(ledger: try Ledger(path: path), contract: contract, kind: .stdout)

        let restarted = try Harness(ledger: try Ledger(path: path))
        try await restarted.running { () async throws in
            #expect(try await eventually { try await restarted.ledger.outcome(contract.jobID) == "uncertain" })
        }
        #expect(restarted.stdout.lines.isEmpty)
        let part = try #require(try await restarted.ledger.parts(of: contract.jobID).first)
        #expect(part.state.name == "uncertain")
        #expect(part.state.lastFailure?.kind == .unknownOutcome)
        #expect(restarted.receipts.receipts.map(\.outcome) == [.uncertain])
        // Uncertain is not a terminal *failure*: no fallback notice.
        #expect(restarted.publisher.messages(exchange: "bb.progress").isEmpty)
    }

    @Test("deduplicating receiver (webhook): re-sent once with the same delivery id")
    func resendForWebhook() async throws {
        let path = temporaryLedgerPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let contract = makeContract(final: "hooks:a", mode: .direct)
        try await crashMidSend(ledger: try Ledger(path: path), contract: contract, kind: .webhook)

        let restarted = try Harness(ledger: try Ledger(path: path))
        try await restarted.running { () async throws in
            #expect(try await eventually { try await restarted.ledger.outcome(contract.jobID) == "delivered" })
        }
        #expect(restarted.http.requests.count == 1)
        #expect(restarted.http.requests.first?.headers["webhook-id"] == DeliveryID(job: contract.jobID, part: 1).description)
        let part = try #require(try await restarted.ledger.parts(of: contract.jobID).first)
        #expect(part.state.attempts == 2)
    }

    @Test("a decided job whose parts were never started is resumed at start")
    func resumePending() async throws {
        let path = temporaryLedgerPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let contract = makeContract()
        do {
            // Not running: the decision and its part rows commit, nothing is sent.
            let first = try Harness(ledger: try Ledger(path: path))
            _ = try await first.coordinator.handleContract(body(contract))
            _ = try await first.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(first.publisher.messages.isEmpty)
        }
        let restarted = try Harness(ledger: try Ledger(path: path))
        try await restarted.running { () async throws in
            #expect(try await eventually { try await restarted.ledger.outcome(contract.jobID) == "delivered" })
        }
        #expect(restarted.publisher.messages(exchange: "bb.inbox").count == 1)
    }
}
