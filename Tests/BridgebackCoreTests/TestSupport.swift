import Foundation
import BridgebackCore

/// SplitMix64: a tiny seeded generator so every "random" test is reproducible from its seed.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixtures {
    static let now = Date(timeIntervalSince1970: 1_760_000_000)

    static let jobID: JobID = {
        var generator = SeededGenerator(seed: 7)
        return JobID.make(at: now, using: &generator)
    }()

    static let secret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()

    static let registryJSON = """
        {
          "schema": "bridgeback.surfaces.v1",
          "surfaces": [
            {"id": "cli:alice", "kind": "inbox", "address": "alice", "human_name": "Alice's terminal", "work_surface": "work:alice", "direct_allowed": true},
            {"id": "work:alice", "kind": "inbox", "address": "alice.work", "human_name": "Alice's work log"},
            {"id": "hooks:local", "kind": "webhook", "address": "http://127.0.0.1:8099/hooks", "human_name": "the local webhook", "signing_secret": "\(secret)", "direct_allowed": true},
            {"id": "slack:ops", "kind": "slack", "address": "C0123", "human_name": "#ops on Slack", "direct_allowed": false, "token": {"env": "SLACK_BOT_TOKEN"}},
            {"id": "api:anon", "kind": "stdout", "human_name": "the anonymous API", "accepts_final": false},
            {"id": "pager", "kind": "inbox", "address": "pager", "human_name": "the pager", "max_length": 500, "length_unit": "unicode_scalars", "length_policy": "summarize"}
          ]
        }
        """

    static func registry() throws -> SurfaceRegistry {
        try SurfaceRegistry.load(from: Data(registryJSON.utf8))
    }

    static func draft(
        origin: SurfaceID = "cli:alice", work: SurfaceID? = nil, final: SurfaceID? = nil, mode: DeliveryMode? = nil
    ) -> ContractDraft {
        ContractDraft(
            origin: origin, workSurface: work, finalSurface: final, deliveryMode: mode,
            deadline: now.addingTimeInterval(3600), policyVersion: "policy-2025.1",
            summary: "release gate for api 2.3", requestText: "Please run the release gate for api 2.3 and tell me if it is safe to ship.",
            recipe: RecipeInvocation(name: "release-gate", params: ["service": "api", "version": "2.3", "canary": true]),
            idempotencyKey: "req-42")
    }

    static func contract() throws -> OwnershipContract {
        try registry().resolve(draft(), jobID: jobID, createdAt: now)
    }

    static func completion(_ outcome: CompletionOutcome = .succeeded(result: "all green"), worker: String = "worker-1") -> Completion {
        Completion(
            jobID: jobID, worker: worker, attempt: 1, startedAt: now.addingTimeInterval(10), finishedAt: now.addingTimeInterval(262),
            outcome: outcome)
    }
}
