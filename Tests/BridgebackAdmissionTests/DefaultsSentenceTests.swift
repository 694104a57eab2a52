import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission

/// The "Defaults used: …" note is appended into one string; it must read exactly as the sentence
/// built from interpolated parts and a join did.
@Suite("The defaults-used sentence")
struct DefaultsSentenceTests {
    /// The sentence as it was built before (parts interpolated, then joined): the reference.
    static func interpolated(_ contract: OwnershipContract, fields: [String], registry: SurfaceRegistry, defaultDeadline: Double)
        -> String?
    {
        var parts: [String] = []
        func name(_ id: SurfaceID) -> String { registry[id].map { "\(id) (\($0.humanName))" } ?? id.rawValue }
        for field in fields {
            switch field {
            case "work_surface": parts.append("work_surface = \(name(contract.workSurface))")
            case "final_surface": parts.append("final_surface = \(name(contract.finalSurface))")
            case "delivery_mode": parts.append("delivery_mode = \(contract.deliveryMode.rawValue) (\(contract.deliveryMode.humanName))")
            case "parent_id": parts.append("parent_id = \(contract.parentID)")
            case "deadline":
                parts.append("deadline = \(WireDate.format(contract.deadline)) (\(AdmissionAPI.seconds(defaultDeadline)) s)")
            case "recipe": parts.append("recipe = \(contract.recipe.name)")
            default: parts.append(field)
            }
        }
        return parts.isEmpty ? nil : "Defaults used: " + parts.joined(separator: ", ")
    }

    static func contract(work: SurfaceID, final: SurfaceID, mode: DeliveryMode, parent: String) -> OwnershipContract {
        OwnershipContract(
            jobID: JobID(milliseconds: 1_765_000_000_000, randomHigh: 1, randomLow: 2), origin: "cli:alice", workSurface: work,
            finalSurface: final, deliveryMode: mode, deadline: Date(timeIntervalSince1970: 1_765_003_600.25), policyVersion: "p",
            summary: "s", requestExcerpt: "r", parentID: parent, recipe: RecipeInvocation(name: "release-gate", params: [:]),
            idempotencyKey: nil, createdAt: Date(timeIntervalSince1970: 1_765_000_000))
    }

    @Test("every field, in any order and subset, with surfaces the registry names and ones it does not")
    func sameSentenceAsInterpolated() throws {
        let fields = ["work_surface", "final_surface", "delivery_mode", "parent_id", "deadline", "recipe", "something_new"]
        for deadline in [3600.0, 90.4, 1e20] {
            let h = try Harness(configuration: .init(defaultDeadlineSeconds: deadline))
            defer { h.dir.cleanup() }
            let contracts = [
                Self.contract(work: "work:alice", final: "cli:alice", mode: .parent, parent: "parent-1"),
                Self.contract(work: "work:unknown", final: "pager:digest", mode: .direct, parent: ""),
                Self.contract(work: "work:a/b", final: "cli:nobody", mode: .suppressed, parent: "é 日本"),
            ]
            var subsets: [[String]] = [[], fields, fields.reversed(), ["deadline"], ["something_new", "work_surface"]]
            for _ in 0..<40 { subsets.append(Array(fields.shuffled().prefix(Int.random(in: 1...fields.count)))) }
            for contract in contracts {
                for subset in subsets {
                    let expected = Self.interpolated(contract, fields: subset, registry: Fixtures.registry, defaultDeadline: deadline)
                    #expect(h.api.defaultsSentence(contract, fields: subset) == expected, "\(subset)")
                }
            }
        }
        // A concrete line, so the wording cannot drift along with the reference above.
        let h = try Harness()
        defer { h.dir.cleanup() }
        let contract = Self.contract(work: "work:alice", final: "cli:alice", mode: .parent, parent: "p1")
        #expect(
            h.api.defaultsSentence(contract, fields: ["work_surface", "deadline", "parent_id"])
                == "Defaults used: work_surface = work:alice (Alice's work log), deadline = 2025-12-06T06:46:40.250Z (3600 s), parent_id = p1"
        )
    }
}
