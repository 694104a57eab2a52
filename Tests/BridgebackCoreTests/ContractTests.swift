import Foundation
import Testing
import BridgebackCore

@Suite struct ContractTests {
    @Test func defaultContractIsParentMediatedBackToOrigin() throws {
        let contract = try Fixtures.contract()
        #expect(contract.origin == "cli:alice")
        #expect(contract.finalSurface == "cli:alice")
        #expect(contract.workSurface == "work:alice")
        #expect(contract.deliveryMode == .parent)
        #expect(contract.parentID == "alice")
        #expect(Set(contract.defaultsApplied) == ["work_surface", "final_surface", "delivery_mode", "parent_id"])
        #expect(contract.recipe.params["service"] == "api")
        #expect(contract.idempotencyKey == "req-42")
        let line = try Fixtures.registry().humanLine(for: contract)
        #expect(
            line
                == "Detached: release gate for api 2.3; progress in Alice's work log; the answer returns to Alice's terminal (parent-mediated)"
        )
    }

    @Test func explicitContractIsKept() throws {
        let contract = try Fixtures.registry().resolve(
            Fixtures.draft(work: "work:alice", final: "hooks:local", mode: .direct), jobID: Fixtures.jobID, createdAt: Fixtures.now)
        #expect(contract.finalSurface == "hooks:local")
        #expect(contract.deliveryMode == .direct)
        #expect(contract.defaultsApplied == ["parent_id"])
        #expect(try Fixtures.registry().humanLine(for: contract).hasSuffix("the answer returns to the local webhook (direct)"))
    }

    @Test func suppressedLine() throws {
        let contract = try Fixtures.registry().resolve(Fixtures.draft(mode: .suppressed), jobID: Fixtures.jobID, createdAt: Fixtures.now)
        #expect(try Fixtures.registry().humanLine(for: contract).hasSuffix("not sent (suppressed)"))
    }

    func failure(_ draft: ContractDraft, createdAt: Date = Fixtures.now) throws -> BridgebackError? {
        let registry = try Fixtures.registry()
        do {
            _ = try registry.resolve(draft, jobID: Fixtures.jobID, createdAt: createdAt)
            return nil
        } catch {
            return error
        }
    }

    @Test func unknownSurfaces() throws {
        let origin = try #require(try failure(Fixtures.draft(origin: "cli:bob")))
        #expect(origin.code == .unknownSurface && origin.field == "origin" && origin.surfaceID == "cli:bob")
        let final = try #require(try failure(Fixtures.draft(final: "hooks:nowhere")))
        #expect(final.code == .unknownSurface && final.field == "final_surface")
        #expect(final.message.contains("known surfaces"))
        let work = try #require(try failure(Fixtures.draft(work: "work:nobody")))
        #expect(work.code == .unknownSurface && work.field == "work_surface")
    }

    @Test func missingFinalSurfaceWithNoDefault() throws {
        let error = try #require(try failure(Fixtures.draft(origin: "api:anon")))
        #expect(error.code == .missingFinalSurface)
        #expect(error.message.contains("name a final_surface"))
        let explicit = try #require(try failure(Fixtures.draft(final: "api:anon")))
        #expect(explicit.code == .invalidContract)
    }

    @Test func directToASurfaceThatForbidsIt() throws {
        let error = try #require(try failure(Fixtures.draft(final: "slack:ops", mode: .direct)))
        #expect(error.code == .directNotAllowed)
        #expect(error.surfaceID == "slack:ops")
        #expect(error.message.contains("#ops on Slack") && error.message.contains("parent"))
        #expect(try failure(Fixtures.draft(final: "slack:ops", mode: .parent)) == nil)
    }

    @Test func deadlineMustBeInTheFuture() throws {
        let error = try #require(try failure(Fixtures.draft(), createdAt: Fixtures.now.addingTimeInterval(7200)))
        #expect(error.code == .invalidContract && error.field == "deadline")
    }

    @Test func errorCodesAreSwitchable() throws {
        let error = try #require(try failure(Fixtures.draft(final: "slack:ops", mode: .direct)))
        switch error.code {
        case .directNotAllowed: break
        default: Issue.record("wrong code \(error.code)")
        }
        #expect(error.description.hasPrefix("direct_not_allowed: "))
    }

    @Test func summaryDefaultsToExcerpt() throws {
        var draft = Fixtures.draft()
        draft.summary = "  "
        let contract = try Fixtures.registry().resolve(draft, jobID: Fixtures.jobID, createdAt: Fixtures.now)
        #expect(contract.summary.hasPrefix("Please run the release gate"))
    }
}
