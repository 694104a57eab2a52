import BridgebackAuth
@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

/// The coordinator with real capabilities (SHA-256 in the contract, the secret in completions):
/// a completion without the job's capability is rejected to bb.parked whatever its publisher,
/// and the job's own completion is still delivered once; parked forgeries survive the ledger's
/// round trip and are discarded when the contract arrives.
@Suite("Completion capability at the coordinator")
struct CapabilityTests {
    static func contract(_ sha256: String) -> OwnershipContract {
        var contract = makeContract()
        contract.completionCapabilitySHA256 = sha256
        return contract
    }

    static func completion(_ job: JobID, _ capability: String?, result: String) -> Completion {
        var completion = makeCompletion(job, result: result)
        completion.capability = capability
        return completion
    }

    @Test("contract first: forged completions (no capability, a guess, another job's) are rejected; the real one is delivered once")
    func contractFirst() async throws {
        var configuration = Harness.fastConfiguration
        configuration.trustedCompletionUsers = ["bb-worker"]
        let h = try Harness(configuration: configuration)
        let (secret, sha) = CompletionCapability.mint()
        let (otherSecret, _) = CompletionCapability.mint()
        let contract = Self.contract(sha)
        try await h.running { () async throws in
            #expect(try await h.coordinator.handleContract(body(contract)) == .ack)
            for capability in [nil, "bbc_guess", otherSecret, String(secret.dropLast())] {
                let forged = Self.completion(contract.jobID, capability, result: "forged result")
                guard case .reject(let reason) = try await h.coordinator.handleCompletion(body(forged), publishedBy: "bb-worker") else {
                    Issue.record("forged completion accepted (capability \(capability == nil ? "absent" : "wrong"))")
                    return
                }
                #expect(!reason.contains(secret) && !reason.contains(otherSecret))
            }
            #expect(try await h.ledger.job(contract.jobID)?.lifecycle.state.name == "awaiting_completion")
            let real = Self.completion(contract.jobID, secret, result: "the real result")
            #expect(try await h.coordinator.handleCompletion(body(real), publishedBy: "bb-worker") == .ack)
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        let inbox = h.publisher.messages(exchange: "bb.inbox")
        #expect(inbox.count == 1)
        let text = String(decoding: inbox.first?.body ?? [], as: UTF8.self)
        #expect(text.contains("the real result") && !text.contains("forged result"))
        #expect(!text.contains(secret), "the capability never leaves with the notice")
        let stored = try await h.ledger.job(contract.jobID)
        #expect(stored?.decision?.completion?.capability == nil, "the secret is not kept once verified")
        #expect(stored?.duplicates == 0)
    }

    @Test("completion first: a parked forgery and the real completion wait; the contract picks the real one")
    func completionFirst() async throws {
        let h = try Harness()
        let (secret, sha) = CompletionCapability.mint()
        let contract = Self.contract(sha)
        try await h.running { () async throws in
            let forged = Self.completion(contract.jobID, "bbc_forged", result: "forged result")
            #expect(try await h.coordinator.handleCompletion(body(forged)) == .ack)
            #expect(
                try await h.coordinator.handleCompletion(body(Self.completion(contract.jobID, secret, result: "the real result"))) == .ack)
            #expect(try await h.ledger.job(contract.jobID)?.lifecycle.state.name == "completion_parked")
            #expect(try await h.coordinator.handleContract(body(contract)) == .ack)
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        let inbox = h.publisher.messages(exchange: "bb.inbox")
        #expect(inbox.count == 1)
        let delivered = String(decoding: inbox.first?.body ?? [], as: UTF8.self)
        #expect(delivered.contains("the real result"))
    }

    @Test("the check: SHA-256 of the presented capability against the contract's; none in the contract accepts (older contracts)")
    func check() {
        let (secret, sha) = CompletionCapability.mint()
        #expect(secret.hasPrefix("bbc_") && sha.count == 64 && !sha.contains(secret))
        let job = JobID.make()
        #expect(Coordinator.capabilityCheck(Self.completion(job, secret, result: ""), Self.contract(sha)))
        #expect(!Coordinator.capabilityCheck(Self.completion(job, nil, result: ""), Self.contract(sha)))
        #expect(!Coordinator.capabilityCheck(Self.completion(job, sha, result: ""), Self.contract(sha)), "the hash is not the secret")
        #expect(Coordinator.capabilityCheck(Self.completion(job, nil, result: ""), makeContract()))
    }
}
