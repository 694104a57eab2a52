import BridgebackAMQP
@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

@Suite("Inbound: ordering, duplicates, destinations, bad messages")
struct InboundTests {
    @Test("contract before completion: one delivery to the contract's inbox")
    func contractThenCompletion() async throws {
        let h = try Harness()
        let contract = makeContract()
        try await h.running { () async throws in
            #expect(try await h.coordinator.handleContract(body(contract)) == .ack)
            #expect(try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID))) == .ack)
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        let inbox = h.publisher.messages(exchange: "bb.inbox")
        #expect(inbox.count == 1)
        #expect(inbox.first?.routingKey == "alice")
        #expect(inbox.first?.properties.messageID == DeliveryID(job: contract.jobID, part: 1).description)
        let notice = try decodeNotice(inbox[0].body)
        #expect(notice.kind == .result)
        #expect(notice.text == "All 5 gates passed. Safe to ship.")
    }

    @Test("completion before contract: parked, then one delivery when the contract arrives")
    func completionThenContract() async throws {
        let h = try Harness()
        let contract = makeContract()
        try await h.running { () async throws in
            #expect(try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID))) == .ack)
            #expect(try await h.ledger.job(contract.jobID)?.lifecycle.state.name == "completion_parked")
            #expect(h.publisher.messages.isEmpty)
            #expect(try await h.coordinator.handleContract(body(contract)) == .ack)
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        #expect(h.publisher.messages(exchange: "bb.inbox").count == 1)
    }

    @Test("duplicate completions and contracts are acknowledged, counted, never re-delivered")
    func duplicates() async throws {
        let h = try Harness()
        let contract = makeContract()
        let completion = makeCompletion(contract.jobID)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(completion))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
            #expect(try await h.coordinator.handleCompletion(body(completion)) == .ack)
            #expect(try await h.coordinator.handleCompletion(body(completion)) == .ack)
            #expect(try await h.coordinator.handleContract(body(contract)) == .ack)
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(h.publisher.messages(exchange: "bb.inbox").count == 1)
        #expect(try await h.ledger.job(contract.jobID)?.duplicates == 2)
    }

    @Test("a completion that claims another destination still goes to the contract's surface")
    func destinationOnlyFromContract() async throws {
        let h = try Harness()
        let contract = makeContract(final: "cli:alice", mode: .parent)
        // A worker (or an attacker) adds destination fields; the decoder has nowhere to put them.
        var object = try JSONSerialization.jsonObject(with: Data(body(makeCompletion(contract.jobID)))) as! [String: Any]
        object["final_surface"] = "hooks:b"
        object["delivery_mode"] = "direct"
        object["address"] = "http://attacker.invalid/steal"
        let claiming = Array(try JSONSerialization.data(withJSONObject: object))
        try await h.running { () async throws in
            _ = try await h.coordinator.handleCompletion(claiming)
            _ = try await h.coordinator.handleContract(body(contract))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        #expect(h.http.requests.isEmpty)
        let inbox = h.publisher.messages(exchange: "bb.inbox")
        #expect(inbox.count == 1)
        #expect(try decodeNotice(inbox[0].body).finalSurface == "cli:alice")
    }

    @Test("malformed, unknown-schema and wrong-kind messages are rejected with a reason")
    func badMessages() async throws {
        let h = try Harness()
        let bodies: [[UInt8]] = [
            Array("not json".utf8),
            Array(#"{"job_id": "job_01K742SG7TN426GVR1K1DKM9TR"}"#.utf8),
            Array(#"{"schema": "bridgeback.contract.v9"}"#.utf8),
            Array(#"{"schema": "something.else.v1"}"#.utf8),
            Array(#"{"schema": "bridgeback.contract.v1", "job_id": "nope"}"#.utf8),
        ]
        for bad in bodies {
            guard case .reject(let reason) = try await h.coordinator.handleContract(bad) else {
                Issue.record("accepted \(String(decoding: bad, as: UTF8.self))")
                continue
            }
            #expect(!reason.isEmpty)
        }
        // A contract on the completions queue is the wrong kind.
        guard case .reject(let reason) = try await h.coordinator.handleCompletion(body(makeContract())) else {
            Issue.record("a contract was accepted as a completion")
            return
        }
        #expect(reason.contains("unexpected_schema"))
        guard case .reject = try await h.coordinator.handleDeadLetter(Array("{}".utf8), reason: "x") else {
            Issue.record("accepted an empty dead letter")
            return
        }
    }

    @Test("a conflicting second contract is rejected; the first stands")
    func conflictingContract() async throws {
        let h = try Harness()
        let contract = makeContract()
        var other = contract
        other.finalSurface = "hooks:b"
        #expect(try await h.coordinator.handleContract(body(contract)) == .ack)
        guard case .reject(let reason) = try await h.coordinator.handleContract(body(other)) else {
            Issue.record("conflicting contract accepted")
            return
        }
        #expect(reason.contains("conflicting_contract"))
        #expect(try await h.ledger.job(contract.jobID)?.contract?.finalSurface == "cli:alice")
    }

    @Test("completions from an untrusted broker user are rejected")
    func untrustedPublisher() async throws {
        var configuration = Harness.fastConfiguration
        configuration.trustedCompletionUsers = ["bb-worker"]
        let h = try Harness(configuration: configuration)
        let completion = makeCompletion(JobID.make())
        guard case .reject = try await h.coordinator.handleCompletion(body(completion), publishedBy: "bb-admission") else {
            Issue.record("untrusted completion accepted")
            return
        }
        #expect(try await h.coordinator.handleCompletion(body(completion), publishedBy: "bb-worker") == .ack)
    }

    @Test("suppressed: one final record, nothing sent anywhere")
    func suppressed() async throws {
        let h = try Harness()
        let contract = makeContract(final: "hooks:a", mode: .suppressed)
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            try await Task.sleep(for: .milliseconds(100))
        }
        let job = try #require(try await h.ledger.job(contract.jobID))
        #expect(job.finalOutcome == "suppressed")
        #expect(job.lifecycle.state.name == "finished")
        #expect(job.decision?.text == "All 5 gates passed. Safe to ship.")
        #expect(try await h.ledger.parts(of: contract.jobID).isEmpty)
        #expect(h.publisher.messages.isEmpty)
        #expect(h.http.requests.isEmpty)
    }
}
