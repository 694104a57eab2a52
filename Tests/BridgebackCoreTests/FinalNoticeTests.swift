import Foundation
import Testing
import BridgebackCore

@Suite struct FinalNoticeTests {
    @Test func humanContextReadsOnItsOwn() throws {
        let contract = try Fixtures.contract()
        let context = HumanContext(
            contract: contract, completion: Fixtures.completion(), kind: .result, originName: "Alice's terminal", part: 2, totalParts: 3)
        let text = context.render()
        #expect(text.contains("Part 2/3"))
        #expect(text.contains("You asked in Alice's terminal: \"Please run the release gate"))
        #expect(text.contains("Ran release-gate on worker-1, took 4 min 12 s: succeeded"))
        #expect(text.contains("bridgeback jobs show \(contract.jobID)"))
        #expect(text.contains("GET /v1/jobs/\(contract.jobID)"))
        let lost = HumanContext(contract: contract, completion: nil, kind: .lost, originName: "Alice's terminal").render()
        #expect(lost.contains("Ran release-gate: lost") && !lost.contains("Part "))
        let failed = HumanContext(
            contract: contract, completion: Fixtures.completion(), kind: .failure, detail: "exit status 2", originName: "X"
        ).render()
        #expect(failed.contains("failed: exit status 2"))
    }

    /// The whole text, pinned: render writes it piece by piece into one string.
    @Test func humanContextRendersExactly() {
        let id = JobID(milliseconds: 1_765_000_000_000, randomHigh: 7, randomLow: 42)
        let multi = HumanContext(
            jobID: id, asked: "run the gate", askedIn: "Alice's terminal", recipe: "release-gate", ranOn: "worker-2",
            durationSeconds: 252, kind: .failure, detail: "exit  status\n2", part: 3, totalParts: 12)
        #expect(
            multi.render() == """
                Part 3/12 · You asked in Alice's terminal: "run the gate"
                Ran release-gate on worker-2, took 4 min 12 s: failed: exit status 2
                More: bridgeback jobs show \(id) · GET /v1/jobs/\(id)
                """)
        let lost = HumanContext(
            jobID: id, asked: "ünïcode ✓", askedIn: "X", recipe: "r", durationSeconds: 3, kind: .lost)
        #expect(
            lost.render() == """
                You asked in X: "ünïcode ✓"
                Ran r: lost (no answer by its deadline)
                More: bridgeback jobs show \(id) · GET /v1/jobs/\(id)
                """)
    }

    /// `excerpt`'s fast path (text returned as is) agrees with collapsing and cutting, for texts
    /// with every kind of ASCII white space, runs, ends, non-ASCII and lengths around the limit.
    @Test func excerptFastPathAgreesWithTheGeneralOne() {
        func reference(_ text: String, _ max: Int) -> String {
            let collapsed = text.split(whereSeparator: { $0.isWhitespace || $0.isNewline }).joined(separator: " ")
            guard collapsed.count > max else { return collapsed }
            let cut = collapsed.prefix(Swift.max(0, max - 1))
            if let space = cut.lastIndex(of: " "), cut.distance(from: cut.startIndex, to: space) > max * 2 / 3 {
                return String(cut[..<space]) + "…"
            }
            return String(cut) + "…"
        }
        let pieces = ["a", "bb", " ", "  ", "\t", "\n", "\r\n", "\u{0B}", "\u{0C}", "\u{1F}", "\u{00}", "é", "\u{85}", "\u{A0}", "word"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let text = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            for max in [0, 1, 3, 8, 20] {
                #expect(HumanText.excerpt(text, maxCharacters: max) == reference(text, max), "\(text.debugDescription) at \(max)")
            }
        }
        #expect(HumanText.excerpt("plain words only", maxCharacters: 100) == "plain words only")
    }

    @Test func durationsAndExcerpts() {
        #expect(HumanText.duration(seconds: 0.25) == "250 ms")
        #expect(HumanText.duration(seconds: 42) == "42 s")
        #expect(HumanText.duration(seconds: 3 * 3600 + 300) == "3 h 5 min")
        #expect(HumanText.duration(seconds: 26 * 3600) == "1 d 2 h")
        // Past Int.max seconds the conversion used to trap; a huge number renders, capped.
        #expect(HumanText.duration(seconds: .greatestFiniteMagnitude) == HumanText.duration(seconds: 9e15))
        #expect(HumanText.duration(seconds: 1e19) == "104166666666 d 16 h")
        #expect(HumanText.duration(seconds: .infinity) == "unknown")
        #expect(HumanText.excerpt("a  b\n\nc", maxCharacters: 10) == "a b c")
        let long = HumanText.excerpt(String(repeating: "word ", count: 50), maxCharacters: 30)
        #expect(long.count <= 30 && long.hasSuffix("…"))
    }

    @Test func plannerSplitsWithinTheSurfaceLimitIncludingContext() throws {
        let registry = try Fixtures.registry()
        let contract = try Fixtures.contract()
        let result = (1...200).map { "Check \($0): passed with a fairly long explanation line." }.joined(separator: "\n")
        let decision = JobLifecycle.FinalDecision(kind: .result, text: result, completion: Fixtures.completion())
        let slack = try #require(registry["slack:ops"])
        var small = slack
        small.maxLength = 2000
        let parts = try FinalNoticePlanner.plan(
            contract: contract, decision: decision, surface: small, originName: "Alice's terminal", createdAt: Fixtures.now)
        #expect(parts.count > 4)
        for (index, part) in parts.enumerated() {
            #expect(part.part == index + 1 && part.totalParts == parts.count)
            #expect(part.deliveryID == DeliveryID(job: contract.jobID, part: index + 1))
            #expect(part.rendered.unicodeScalars.count <= 2000)
            #expect(part.contextText.contains("Part \(index + 1)/\(parts.count)"))
        }
        #expect(FinalNotice.rejoin(parts.reversed()) == result)
        let again = try FinalNoticePlanner.plan(
            contract: contract, decision: decision, surface: small, originName: "Alice's terminal", createdAt: Fixtures.now)
        #expect(again.map(\.deliveryID) == parts.map(\.deliveryID))
    }

    /// The planner hands a one-part notice the context text it measured instead of rendering it
    /// again: every part's text must still be its own context's rendering.
    @Test func plannedContextTextIsThePartsOwnRendering() throws {
        let registry = try Fixtures.registry()
        let contract = try Fixtures.contract()
        let slack = try #require(registry["slack:ops"])
        let pager = try #require(registry["pager"])
        var small = slack
        small.maxLength = 2000
        let long = (1...200).map { "Check \($0): passed." }.joined(separator: "\n")
        var counts: Set<Int> = []
        for (surface, text) in [(slack, "ok"), (small, long), (small, "short"), (pager, long), (pager, "ok")] {
            for kind in FinalNoticeKind.allCases {
                let decision = JobLifecycle.FinalDecision(kind: kind, text: text, completion: kind == .lost ? nil : Fixtures.completion())
                let parts = try FinalNoticePlanner.plan(
                    contract: contract, decision: decision, surface: surface, originName: "Alice's terminal", createdAt: Fixtures.now)
                counts.insert(parts.count)
                for part in parts {
                    #expect(part.contextText == part.context.render())
                    #expect(part.context.part == part.part && part.context.totalParts == parts.count)
                }
            }
        }
        #expect(counts.contains(1) && counts.contains { $0 > 1 })
    }

    @Test func plannerSummarizesForSummarizeSurfaces() throws {
        let registry = try Fixtures.registry()
        let pager = try #require(registry["pager"])
        let decision = JobLifecycle.FinalDecision(kind: .result, text: String(repeating: "long result ", count: 200), completion: nil)
        let parts = try FinalNoticePlanner.plan(
            contract: try Fixtures.contract(), decision: decision, surface: pager, originName: "Alice's terminal", createdAt: Fixtures.now)
        #expect(parts.count == 1 && parts[0].summarized)
        #expect(parts[0].rendered.unicodeScalars.count <= pager.maxLength)
        #expect(parts[0].text.contains("/result"))
    }

    @Test func fallbackNoticeCarriesTheResultUnderItsOwnIDs() throws {
        let registry = try Fixtures.registry()
        let decision = JobLifecycle.FinalDecision(kind: .result, text: "the answer", completion: nil)
        let fallback = FinalNoticePlanner.fallbackDecision(
            for: decision, finalSurfaceName: "#ops on Slack", failure: DeliveryFailure(.permission, detail: "not_in_channel"))
        #expect(fallback.text.hasPrefix("Could not deliver to #ops on Slack: permission denied (not_in_channel)."))
        #expect(fallback.text.hasSuffix("the answer"))
        let work = try #require(registry["work:alice"])
        let parts = try FinalNoticePlanner.plan(
            contract: try Fixtures.contract(), decision: fallback, surface: work, originName: "Alice's terminal", purpose: .fallback,
            createdAt: Fixtures.now)
        #expect(parts.map(\.deliveryID.description) == ["dlv_\(Fixtures.jobID.ulid)_fallback_1"])
    }
}
